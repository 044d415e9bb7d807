import sys

from claystream_devstack.cli import main

sys.exit(main())

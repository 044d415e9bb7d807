import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # monitor_synthetic / monitor_fakes helpers

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).parent))  # monitor_synthetic / monitor_fakes helpers


@pytest.fixture(autouse=True)
def single_native_thread() -> Iterator[None]:
    """As the service runs (settings.native_threads=1): small matrices, no BLAS thread contention."""
    with threadpool_limits(limits=1):
        yield

"""The security tests' helpers (``authz_stack``, ``authz_table``) import as plain modules."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="module")
async def stack(embedded_stack: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """The four services in-process on the embedded stack, seeded (see ``authz_stack``)."""
    from authz_stack import running_stack

    async with running_stack(embedded_stack, str(tmp_path_factory.mktemp("authz-models"))) as running:
        yield running

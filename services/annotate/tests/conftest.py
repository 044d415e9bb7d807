"""Fixtures shared by the annotate API and integration tests."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from annotate_testing import Annotate, running_annotate
from claystream_common.ports import RecordingPublisher


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
async def annotate(embedded_stack, publisher: RecordingPublisher) -> AsyncIterator[Annotate]:  # type: ignore[no-untyped-def]
    """The annotate app in-process on a fresh database; events go to ``publisher``."""
    async with running_annotate(embedded_stack, publisher=publisher) as app:
        yield app

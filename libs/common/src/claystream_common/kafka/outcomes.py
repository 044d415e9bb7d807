"""The consumer runner's internal control flow: a decoded message, and how handling one can end."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from claystream_common.events import Envelope


@dataclass(slots=True)
class Decoded:
    message: Any
    event: Envelope[Any] | None = None
    error: str | None = None
    event_id: str = ""


class Rewind(Exception):
    """Leave the partition uncommitted from ``offset`` on and poll it again later."""

    def __init__(self, offset: int) -> None:
        super().__init__(offset)
        self.offset = offset


class Revoked(Exception):
    """The partition was lost to a rebalance mid-batch: stop; its new owner handles the rest."""


class Exhausted(Exception):
    def __init__(self, cause: BaseException, attempts: int) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.attempts = attempts

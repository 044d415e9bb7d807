"""Bounded waits and the demo's step log (what ran, how long, what timed out)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


class StepTimeout(TimeoutError):
    """A bounded wait ran out; the message says what was awaited and what was last seen."""


@dataclass
class StepResult:
    name: str
    status: str  # ok | timeout | failed | skipped
    seconds: float
    detail: str = ""


@dataclass
class StepLog:
    """Every step the demo ran; printed as it goes and written into the report."""

    results: list[StepResult] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    echo: Callable[[str], None] = print

    def run(self, name: str, action: Callable[[], T], *, required: bool = False) -> T | None:
        """Run one step; a timeout or an error is recorded and the demo goes on (unless ``required``)."""
        self.echo(f"demo: {name} ...")
        started = time.monotonic()
        try:
            value = action()
        except StepTimeout as error:
            self._record(name, "timeout", started, str(error))
            if required:
                raise
            return None
        except Exception as error:
            self._record(name, "failed", started, f"{type(error).__name__}: {error}")
            if required:
                raise
            return None
        detail = value if isinstance(value, str) else ""
        self._record(name, "ok", started, detail)
        return value

    def skip(self, name: str, reason: str) -> None:
        self.results.append(StepResult(name, "skipped", 0.0, reason))
        self.echo(f"demo: {name}: skipped ({reason})")

    def _record(self, name: str, status: str, started: float, detail: str) -> None:
        seconds = time.monotonic() - started
        self.results.append(StepResult(name, status, seconds, detail))
        suffix = f": {detail}" if detail else ""
        self.echo(f"demo: {name}: {status.upper()} in {seconds:.1f}s{suffix}")

    def status_of(self, name: str) -> str | None:
        return next((r.status for r in reversed(self.results) if r.name == name), None)

    @property
    def problems(self) -> list[StepResult]:
        return [r for r in self.results if r.status in ("timeout", "failed")]


def wait_for(
    what: str,
    probe: Callable[[], tuple[bool, Any]],
    *,
    timeout_s: float,
    interval_s: float = 0.5,
    on_progress: Callable[[Any], None] | None = None,
) -> Any:
    """Call ``probe`` (→ ``(done, seen)``) until done; :class:`StepTimeout` after ``timeout_s``.

    Probe errors (a service restarting, a 5xx) count as "not yet" and are shown if it times out.
    """
    deadline = time.monotonic() + timeout_s
    seen: Any = None
    last_error: str | None = None
    while True:
        try:
            done, seen = probe()
            last_error = None
        except Exception as error:  # noqa: BLE001 - shown in the timeout message
            done, last_error = False, f"{type(error).__name__}: {error}"
        if done:
            return seen
        if on_progress is not None:
            on_progress(seen)
        if time.monotonic() >= deadline:
            tail = f"; last error {last_error}" if last_error else ""
            raise StepTimeout(f"waited {timeout_s:.0f}s for {what}; last seen {seen!r}{tail}")
        time.sleep(interval_s)

"""How the consumer runner retries one handler call: attempts and backoff for handler errors, a time
budget for infrastructure outages (which never use up a message's attempts)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from claystream_common.errors import PermanentError, is_infrastructure_error
from claystream_common.kafka.outcomes import Exhausted, Rewind


@dataclass(frozen=True)
class RetryPolicy:
    """The runner's settings (its constructor holds the defaults)."""

    max_attempts: int
    backoff_initial_s: float
    backoff_max_s: float
    infrastructure_retry_s: float


async def call_with_retries(
    call: Callable[[], Awaitable[None]], *, policy: RetryPolicy, offset: int,
    pause: Callable[[float], Awaitable[bool]], on_retry: Callable[[BaseException, int], None],
) -> tuple[int, float]:
    """Run ``call``; return (the attempts it took, the seconds of the one that succeeded).

    Exhausted: dead-letter it (``max_attempts``, or a PermanentError at once).  Rewind: leave it
    uncommitted (an outage past ``infrastructure_retry_s``, or ``pause`` saying the runner stops)."""
    attempt = 0
    delay = policy.backoff_initial_s
    infra_deadline: float | None = None
    while True:
        attempt += 1
        started = time.perf_counter()
        try:
            await call()
        except PermanentError as error:
            raise Exhausted(error, attempt) from error
        except Exception as error:
            if is_infrastructure_error(error):
                infra_deadline = infra_deadline or time.monotonic() + policy.infrastructure_retry_s
                if time.monotonic() > infra_deadline:
                    raise Rewind(offset) from error
                attempt -= 1  # an outage does not use up the message's attempts
            elif attempt >= policy.max_attempts:
                raise Exhausted(error, attempt) from error
            on_retry(error, attempt)
            if await pause(delay):
                raise Rewind(offset) from error
            delay = min(delay * 2, policy.backoff_max_s)
        else:
            return attempt, time.perf_counter() - started

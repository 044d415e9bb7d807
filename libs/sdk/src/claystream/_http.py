"""JSON over httpx with retries: 429 (honouring Retry-After), 502/503/504 and connection errors."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from claystream.errors import ApiError

RETRY_STATUSES = frozenset({429, 502, 503, 504})


def _default(value: Any) -> Any:
    for attribute in ("item", "tolist", "isoformat"):  # numpy scalars / arrays, datetimes, pandas Timestamps
        if hasattr(value, attribute):
            return getattr(value, attribute)()
    raise TypeError(f"cannot serialise {type(value).__name__} to JSON")


def dumps(body: Any) -> bytes:
    return orjson.dumps(body, default=_default, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


def decode(response: httpx.Response) -> Any:
    try:
        return orjson.loads(response.content) if response.content else None
    except orjson.JSONDecodeError:
        return response.text


class RetryingJson:
    def __init__(self, client: httpx.Client, *, max_retries: int, backoff_s: float,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._sleep = sleep

    def request(
        self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        """The final response (2xx or a non-retryable error); raises ApiError for errors."""
        content = dumps(body) if body is not None else None
        headers = {"Content-Type": "application/json"} if content is not None else None
        attempt = 0
        while True:
            try:
                response = self.client.request(method, path, content=content, params=params, headers=headers)
            except httpx.TransportError as error:
                if attempt >= self.max_retries:
                    raise ApiError(0, {"detail": f"cannot reach {self.client.base_url}: {error!r}"},
                                   method=method, url=path) from error
                self._sleep(self._delay(attempt, None))
                attempt += 1
                continue
            if response.status_code in RETRY_STATUSES and attempt < self.max_retries:
                self._sleep(self._delay(attempt, response.headers.get("Retry-After")))
                attempt += 1
                continue
            return response

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                pass
        return min(10.0, self.backoff_s * 2**attempt) * (0.5 + random.random() / 2)

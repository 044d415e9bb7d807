"""The HTTP side of webhook delivery: one POST, redirects never followed, a hard deadline for the whole
exchange, and at most ``response_cap_bytes`` of the answer read (the rest is dropped unread)."""

from __future__ import annotations

import asyncio
import time

import httpx

from claystream_annotate.services.webhook_delivery import SendOutcome

EXCERPT_CHARS = 500


class HttpWebhookSender:
    def __init__(self, *, timeout_s: float, connect_timeout_s: float, response_cap_bytes: int, max_connections: int = 200) -> None:
        self._timeout_s = timeout_s
        self._cap = response_cap_bytes
        self._client = httpx.AsyncClient(
            follow_redirects=False,
            timeout=httpx.Timeout(timeout_s, connect=min(connect_timeout_s, timeout_s)),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections // 2),
            trust_env=False,  # no proxy from the environment: the address check must see the real target
        )

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> SendOutcome:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self._timeout_s):
                async with self._client.stream("POST", url, headers=headers, content=body) as response:
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.aiter_raw():
                        chunks.append(chunk[: self._cap - size])
                        size += len(chunks[-1])
                        if size >= self._cap:
                            break  # closing the stream drops the rest unread
                    status = response.status_code
        except TimeoutError:
            return SendOutcome(None, _ms(started), "", f"timed out after {self._timeout_s:g} s")
        except httpx.HTTPError as error:
            return SendOutcome(None, _ms(started), "", f"{type(error).__name__}: {str(error)[:200]}")
        excerpt = b"".join(chunks).decode("utf-8", errors="replace")[:EXCERPT_CHARS]
        error = None
        if 300 <= status < 400:
            error = f"redirect to {response.headers.get('location', '?')[:200]} not followed"
        elif not 200 <= status < 300:
            error = f"HTTP {status}"
        return SendOutcome(status, _ms(started), excerpt, error)

    async def close(self) -> None:
        await self._client.aclose()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)

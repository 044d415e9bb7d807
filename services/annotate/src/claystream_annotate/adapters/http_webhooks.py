"""The HTTP side of webhook delivery (aiohttp: about a third of httpx's CPU per request, which matters at
thousands of deliveries a second): one POST, redirects never followed, a hard deadline for the whole
exchange, and at most ``response_cap_bytes`` of the answer read (the rest is dropped unread)."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from claystream_annotate.services.webhook_delivery import SendOutcome

EXCERPT_CHARS = 500


class HttpWebhookSender:
    def __init__(self, *, timeout_s: float, connect_timeout_s: float, response_cap_bytes: int, max_connections: int = 200) -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(connect_timeout_s, timeout_s))
        self._timeout_s = timeout_s
        self._cap = response_cap_bytes
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # built on first use, inside the running loop
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=10),
                timeout=self._timeout,
                trust_env=False,  # no proxy from the environment: the address check must see the real target
                auto_decompress=False,  # a small compressed answer must not inflate past the cap
            )
        return self._session

    async def send(self, url: str, headers: dict[str, str], body: bytes) -> SendOutcome:
        started = time.perf_counter()
        try:
            async with self._client().post(url, data=body, headers=headers, allow_redirects=False) as response:
                status = response.status
                location = response.headers.get("location", "?")
                head = b""
                while len(head) < self._cap:
                    chunk = await response.content.read(self._cap - len(head))
                    if not chunk:
                        break
                    head += chunk
                if not response.content.at_eof():
                    response.close()  # drop the rest unread (the connection is not reused)
        except (TimeoutError, asyncio.TimeoutError):
            return SendOutcome(None, _ms(started), "", f"timed out after {self._timeout_s:g} s")
        except aiohttp.ClientError as error:
            return SendOutcome(None, _ms(started), "", f"{type(error).__name__}: {str(error)[:200]}")
        excerpt = head.decode("utf-8", errors="replace")[:EXCERPT_CHARS]
        error = None
        if 300 <= status < 400:
            error = f"redirect to {location[:200]} not followed"
        elif not 200 <= status < 300:
            error = f"HTTP {status}"
        return SendOutcome(status, _ms(started), excerpt, error)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)

"""The HTTP side of webhook delivery (aiohttp: about a third of httpx's CPU per request, which matters at
thousands of deliveries a second): one POST, redirects never followed, a hard deadline for the whole
exchange, and at most ``response_cap_bytes`` of the answer read (the rest is dropped unread).

Unless private targets are allowed, the connection resolves the name through :class:`PublicOnlyResolver`: the
address connected to is one that passed the check at that very moment.  The dispatcher's check before each send
resolved the name once, and aiohttp then resolved it again on its own, so a name answering a public address first
and 127.0.0.1 next (DNS rebinding, TTL 0) reached an internal service, whose answer's excerpt is stored for the
workspace's admins to read."""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from claystream_annotate.services.webhook_delivery import SendOutcome
from claystream_annotate.services.webhook_targets import is_public_address

EXCERPT_CHARS = 500


class PublicOnlyResolver(AbstractResolver):
    """Resolves like aiohttp's default resolver and refuses an answer holding any address that is not public."""

    def __init__(self) -> None:
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        answers = await self._inner.resolve(host, port, family)
        if not answers or any(not is_public_address(str(a["host"])) for a in answers):
            # errno + strerror: aiohttp shows the strerror in its error ("Cannot connect to host ... [<strerror>]")
            raise OSError(errno.EHOSTUNREACH, f"{host} does not resolve to a public address; not connected")
        return answers

    async def close(self) -> None:
        await self._inner.close()


class HttpWebhookSender:
    def __init__(self, *, timeout_s: float, connect_timeout_s: float, response_cap_bytes: int, max_connections: int = 200,
                 allow_private: bool = False) -> None:
        self._allow_private = allow_private
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, connect=min(connect_timeout_s, timeout_s))
        self._timeout_s = timeout_s
        self._cap = response_cap_bytes
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # built on first use, inside the running loop
            options: dict[str, Any] = {} if self._allow_private else {"resolver": PublicOnlyResolver()}
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._max_connections, ttl_dns_cache=10, **options),
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

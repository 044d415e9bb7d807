"""ASGI guards every service app installs (issue 17): request-body limits and operator-only routes.

``BodyLimit``: a body larger than the limit gets 413 before a handler (or a form parser) reads it:
refused on the declared ``Content-Length``, and counted while streaming for chunked bodies.  A path
prefix can have a tighter limit (annotate's login forms take 16 KiB).

``OperatorOnly``: ``/metrics`` and the API docs (``/docs``, ``/redoc``, ``/openapi.json``) are public in
development and test mode; in production they need ``Authorization: Bearer <metrics_token>`` (metrics)
or the service token (both), unless ``public_metrics`` / ``public_docs`` say otherwise.  ``/healthz``
and ``/readyz`` stay open for probes.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
METRICS_PATH = "/metrics"


class BodyTooLarge(Exception):
    pass


async def _send_json(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int, per_path: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.per_path = dict(per_path or {})

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.per_path.items():
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        message = f'{{"detail": "request body is larger than {limit} bytes; send smaller batches"}}'.encode()
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _send_json(send, 413, message, [(b"connection", b"close")])
            return
        if declared is None and scope.get("method") in ("POST", "PUT", "PATCH"):
            await self._buffered(scope, receive, send, limit, message)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            incoming = await receive()
            if incoming["type"] == "http.request":
                seen += len(incoming.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge()
            return incoming

        async def tracking(outgoing: Message) -> None:
            nonlocal started
            if outgoing["type"] == "http.response.start":
                started = True
            await send(outgoing)

        try:
            await self.app(scope, counted, tracking)
        except BodyTooLarge:
            if started:
                raise
            await _send_json(send, 413, message, [(b"connection", b"close")])


    async def _buffered(self, scope: Scope, receive: Receive, send: Send, limit: int, message: bytes) -> None:
        """A body of unknown length (chunked) is read up to the limit before the app sees it: raised from inside
        the app's read, the overflow became FastAPI's 400 "error parsing the body" instead of a 413."""
        chunks: list[bytes] = []
        seen = 0
        while True:
            incoming = await receive()
            if incoming["type"] != "http.request":  # the client went away: the app hears it as it would have
                chunks.clear()
                break
            seen += len(incoming.get("body", b""))
            if seen > limit:
                await _send_json(send, 413, message, [(b"connection", b"close")])
                return
            chunks.append(incoming.get("body", b""))
            if not incoming.get("more_body", False):
                break
        pending: list[Message] = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}] if chunks else [incoming]

        async def replay() -> Message:
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)


def _bearer(scope: Scope) -> str | None:
    value = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class OperatorOnly:
    def __init__(self, app: ASGIApp, *, settings: Any) -> None:
        self.app = app
        production = str(getattr(settings.mode, "value", settings.mode)) == "production"
        self.public_docs = settings.public_docs if settings.public_docs is not None else not production
        self.public_metrics = settings.public_metrics if settings.public_metrics is not None else not production
        self.service_token = settings.service_token
        self.metrics_token = settings.metrics_token

    def allowed(self, path: str, token: str | None) -> bool:
        if path == METRICS_PATH and self.public_metrics or path in DOCS_PATHS and self.public_docs:
            return True
        if token is None:
            return False
        accepted = [self.service_token] + ([self.metrics_token] if path == METRICS_PATH and self.metrics_token else [])
        return any(hmac.compare_digest(token.encode(), candidate.encode()) for candidate in accepted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if (path == METRICS_PATH or path in DOCS_PATHS) and not self.allowed(path, _bearer(scope)):
            reason = "metrics_token or service token" if path == METRICS_PATH else "service token"
            body = f'{{"detail": {{"field": "Authorization", "reason": "Bearer <{reason}> required"}}}}'.encode()
            await _send_json(send, 401, body, [(b"www-authenticate", b"Bearer")])
            return
        await self.app(scope, receive, send)

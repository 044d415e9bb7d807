"""Webhooks: manage a workspace's subscriptions (``client.webhooks``) and verify what arrives
(``verify_signature``, for the receiving side; it needs nothing but the standard library).

Claystream signs the Standard Webhooks way: ``webhook-signature`` holds ``v1,<base64 HMAC-SHA256>``
of ``"{webhook-id}.{webhook-timestamp}.{raw body}"``; the key is the secret's base64 part for a
``whsec_...`` secret, the secret's UTF-8 bytes otherwise.  ``webhook-id`` is the event id: the same on
every retry, so use it to drop duplicates (delivery is at-least-once).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from claystream._http import RetryingJson, decode
from claystream.errors import ApiError, ClaystreamError, ValidationFailed

DEFAULT_TOLERANCE_S = 300


class WebhookVerificationError(ClaystreamError):
    """The request is not a genuine, fresh Claystream webhook."""


def _key(secret: str) -> bytes:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode()


def verify_signature(
    body: bytes | str, headers: Mapping[str, str], secret: str, *, tolerance_s: int = DEFAULT_TOLERANCE_S, now: float | None = None
) -> dict[str, Any]:
    """Check a received webhook and return its JSON payload; raise WebhookVerificationError otherwise.

    ``body`` must be the raw request body (before any JSON parsing), ``headers`` the request headers
    (any case), ``secret`` the subscription's secret.  Timestamps further than ``tolerance_s`` from now
    are refused (replays of old captures)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    message_id, timestamp, signatures = (lowered.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not message_id or not timestamp or not signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a number") from None
    if abs((time.time() if now is None else now) - sent_at) > tolerance_s:
        raise WebhookVerificationError("webhook-timestamp too old or too far in the future")
    raw = body.encode() if isinstance(body, str) else bytes(body)
    digest = hmac.new(_key(secret), f"{message_id}.{sent_at}.".encode() + raw, hashlib.sha256).digest()
    expected = base64.b64encode(digest).decode()
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value, expected):
            try:
                return json.loads(raw)
            except ValueError:
                raise WebhookVerificationError("body is not JSON") from None
    raise WebhookVerificationError("no matching signature")


class Webhooks:
    """A workspace's webhook subscriptions (needs an admin API key and the client's ``annotate_url``)."""

    def __init__(self, http: RetryingJson, workspace: Callable[[], str]) -> None:
        self._http = http
        self._workspace = workspace

    def _path(self, *parts: str) -> str:
        return "/".join([f"/api/v1/workspaces/{quote(self._workspace(), safe='')}/webhooks", *(quote(p, safe="") for p in parts)])

    def _call(self, method: str, path: str, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, body=body, params=params)
        payload = decode(response)
        if response.status_code == 422:
            raise ValidationFailed(422, payload, accepted_before=0, method=method, url=path)
        if response.status_code >= 400:
            raise ApiError(response.status_code, payload, method=method, url=path)
        return payload

    def event_types(self) -> list[str]:
        return [t["type"] for t in self._call("GET", "/api/v1/webhook-event-types")["event_types"]]

    def create(
        self, url: str, event_types: list[str], *, secret: str | None = None, format: str = "standard", description: str = "", enabled: bool = True
    ) -> dict[str, Any]:
        """A new subscription; the answer's ``secret`` is shown only here."""
        body = {"url": url, "event_types": event_types, "format": format, "description": description, "enabled": enabled}
        if secret is not None:
            body["secret"] = secret
        return self._call("POST", self._path(), body)

    def list(self) -> list[dict[str, Any]]:
        return self._call("GET", self._path())

    def get(self, subscription_id: str) -> dict[str, Any]:
        return self._call("GET", self._path(subscription_id))

    def update(self, subscription_id: str, **changes: Any) -> dict[str, Any]:
        """Change url, event_types, format, description, secret or enabled (True re-enables a disabled one)."""
        return self._call("PATCH", self._path(subscription_id), changes)

    def enable(self, subscription_id: str) -> dict[str, Any]:
        return self.update(subscription_id, enabled=True)

    def disable(self, subscription_id: str) -> dict[str, Any]:
        return self.update(subscription_id, enabled=False)

    def delete(self, subscription_id: str) -> None:
        self._call("DELETE", self._path(subscription_id))

    def send_test(self, subscription_id: str) -> dict[str, Any]:
        return self._call("POST", self._path(subscription_id, "test"))

    def deliveries(self, subscription_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
        return self._call("GET", self._path(subscription_id, "deliveries"), params={"limit": limit})

    def delivery(self, subscription_id: str, delivery_id: str) -> dict[str, Any]:
        """One delivery with its body and ``attempt_log``."""
        return self._call("GET", self._path(subscription_id, "deliveries", delivery_id))

    def replay(self, subscription_id: str, delivery_id: str) -> dict[str, Any]:
        return self._call("POST", self._path(subscription_id, "deliveries", delivery_id, "replay"))

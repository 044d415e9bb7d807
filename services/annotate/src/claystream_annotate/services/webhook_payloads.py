"""What a webhook request carries: the body (Standard Webhooks JSON, or a Slack incoming-webhook
message) and the Standard Webhooks signature headers.

Signature: ``webhook-signature: v1,<base64 HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")>``.
The key is the secret's bytes: a ``whsec_<base64>`` secret (what the service generates, as Standard
Webhooks libraries expect) is base64-decoded first; any other secret is used as its UTF-8 bytes.
``webhook-id`` is the event id, the receiver's idempotency key: it is the same on every retry and on a
replay, and the same for every subscription that receives the event.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

SECRET_PREFIX = "whsec_"
FORMATS = ("standard", "slack")


def generate_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def secret_key(secret: str) -> bytes:
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode()


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "claystream-webhooks/1",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }


# --------------------------------------------------------------------------- bodies
def standard_body(
    *, event_id: str, webhook_type: str, occurred_at: datetime, workspace: str | None, dataset: str | None, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": webhook_type,
        "timestamp": occurred_at.isoformat(),
        "workspace": workspace,
        "dataset": dataset,
        "data": data,
    }


def _drift_text(body: dict[str, Any]) -> str:
    data = body["data"]
    verb = "detected" if body["type"] == "drift.detected" else "resolved"
    icon = ":rotating_light:" if verb == "detected" else ":white_check_mark:"
    version = f" {data.get('model_version')}" if data.get("model_version") else ""
    return (
        f"{icon} Drift {verb} on model *{data.get('model')}*{version} (workspace {body.get('workspace')}): "
        f"check `{data.get('check')}` statistic {_number(data.get('statistic'))} vs threshold {_number(data.get('threshold'))}"
    )


def _training_failed_text(body: dict[str, Any]) -> str:
    data = body["data"]
    return f":x: Training failed for {body.get('workspace')}/{body.get('dataset')} ({data.get('kind')}): {str(data.get('error'))[:300]}"


def _promoted_text(body: dict[str, Any]) -> str:
    data = body["data"]
    return f":trophy: Model {data.get('model_version')} promoted for {body.get('workspace')}/{body.get('dataset')}"


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, (int, float)) else str(value)


SLACK_TEXT: dict[str, Callable[[dict[str, Any]], str]] = {
    "drift.detected": _drift_text,
    "drift.resolved": _drift_text,
    "training.failed": _training_failed_text,
    "model.promoted": _promoted_text,
}


def slack_body(body: dict[str, Any]) -> dict[str, Any]:
    """A Slack (or Mattermost, Rocket.Chat...) incoming-webhook message for a standard body."""
    text_for = SLACK_TEXT.get(body["type"])
    where = "/".join(part for part in (body.get("workspace"), body.get("dataset")) if part)
    text = text_for(body) if text_for else f"Claystream: {body['type']} in {where or 'claystream'}"
    return {"text": text}


def encode_body(body: dict[str, Any], fmt: str) -> str:
    """The exact bytes sent (stored with the delivery, so retries and replays send the same body)."""
    out = slack_body(body) if fmt == "slack" else body
    return json.dumps(out, separators=(",", ":"), default=str)

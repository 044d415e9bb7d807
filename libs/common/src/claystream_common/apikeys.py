"""API keys: ``cs_<key_id>_<secret>``; only a SHA-256 of the secret is stored.

Documents live in the ``api_keys`` collection of the shared database (written by
annotate's admin side or the CLI, read by ingest and annotate):
``{_id: key_id, workspace, name, role, secret_sha256, created_at, revoked: bool}``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_PREFIX = "cs_"


@dataclass(frozen=True)
class NewApiKey:
    key_id: str
    plaintext: str
    secret_sha256: str


def generate_api_key() -> NewApiKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return NewApiKey(key_id=key_id, plaintext=f"{KEY_PREFIX}{key_id}_{secret}", secret_sha256=hash_secret(secret))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_api_key(plaintext: str) -> tuple[str, str] | None:
    """(key_id, secret) or None when the shape is wrong."""
    if not plaintext.startswith(KEY_PREFIX):
        return None
    body = plaintext[len(KEY_PREFIX):]
    key_id, sep, secret = body.partition("_")
    if not sep or len(key_id) != 16 or not secret:
        return None
    return key_id, secret


def secret_matches(secret: str, stored_sha256: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_sha256)

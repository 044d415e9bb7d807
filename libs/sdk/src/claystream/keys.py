"""Create an API key document in the shared ``api_keys`` collection (the plaintext is shown once)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,62}$")
ROLES = ("annotator", "admin")  # the annotate service's key roles; both may log records


@dataclass(frozen=True)
class CreatedKey:
    key_id: str
    plaintext: str
    workspace: str
    name: str
    role: str


def new_key_document(workspace: str, name: str, role: str) -> tuple[dict[str, object], str]:
    """(document to insert, plaintext): the same shape as claystream_common.apikeys describes."""
    import hashlib
    import secrets

    if not NAME_RE.fullmatch(workspace):
        raise ValueError(f"workspace {workspace!r}: lower-case letters, digits, '_' and '-' (max 63)")
    if not name.strip():
        raise ValueError("name: must not be empty")
    if role not in ROLES:
        raise ValueError(f"role {role!r}: one of {', '.join(ROLES)}")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    document = {
        "_id": key_id, "workspace": workspace, "name": name, "role": role,
        "secret_sha256": hashlib.sha256(secret.encode()).hexdigest(),
        "created_at": datetime.now(UTC), "revoked": False,
    }
    return document, f"cs_{key_id}_{secret}"


def create_api_key(mongo_url: str, *, workspace: str, name: str, role: str = "annotator", db: str = "claystream",
                   timeout_ms: int = 5000) -> CreatedKey:
    from pymongo import MongoClient

    document, plaintext = new_key_document(workspace, name, role)
    client: MongoClient[dict[str, object]] = MongoClient(mongo_url, serverSelectionTimeoutMS=timeout_ms)
    try:
        client[db]["api_keys"].insert_one(document)
    finally:
        client.close()
    return CreatedKey(key_id=str(document["_id"]), plaintext=plaintext, workspace=workspace, name=name, role=role)

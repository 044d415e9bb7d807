"""Envelopes straight to JSON bytes (the wire format of ``claystream_common.events.Envelope``).

The hot path builds no pydantic model per event: the envelope's constant part is serialised
once per request and each event adds its id and its payload (orjson).  Ids are made in bulk:
``record_ids`` equals ``claystream_common.datasets.record_id_for`` (uuid5) and ``event_ids``
are random uuid4s.  ``tests/unit/test_encoding.py`` proves ``decode_event`` reads the bytes back
as the registered payload models and that the ids match the contract function.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any

import orjson
from claystream_common.datasets import RECORD_NAMESPACE
from claystream_common.events import DEFAULT_SCHEMA_VERSION

from claystream_ingest.services.ports import EncodedEvent

_VARIANT = "89ab"


def _dashed(h: str) -> str:
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def event_ids(count: int) -> list[str]:
    """``count`` random RFC 4122 version-4 UUID strings."""
    raw = os.urandom(16 * count).hex()
    return [
        f"{raw[i:i + 8]}-{raw[i + 8:i + 12]}-4{raw[i + 13:i + 16]}-{_VARIANT[int(raw[i + 16], 16) & 3]}"
        f"{raw[i + 17:i + 20]}-{raw[i + 20:i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


def record_ids(workspace: str, dataset: str, external_ids: Sequence[str | None]) -> list[str]:
    """``record_id_for(workspace, dataset, external_id)`` for each id (uuid5; random when None)."""
    prefix = hashlib.sha1(RECORD_NAMESPACE.bytes + f"{workspace}\x1f{dataset}\x1f".encode())
    out: list[str] = []
    randoms: list[int] = []
    for external_id in external_ids:
        if external_id is None:
            randoms.append(len(out))
            out.append("")
            continue
        digest = prefix.copy()
        digest.update(external_id.encode())
        raw = bytearray(digest.digest()[:16])
        raw[6] = (raw[6] & 0x0F) | 0x50
        raw[8] = (raw[8] & 0x3F) | 0x80
        out.append(_dashed(raw.hex()))
    for index, value in zip(randoms, event_ids(len(randoms)), strict=True):
        out[index] = value
    return out


def encode_events(
    event_type: str,
    payloads: Sequence[dict[str, Any]],
    keys: Sequence[str],
    *,
    workspace: str | None,
    dataset: str | None,
    occurred_at: str,
    traceparent: str | None,
) -> list[EncodedEvent]:
    """One serialised envelope per payload, keyed (Kafka partitioning) by ``keys``."""
    head = orjson.dumps({
        "type": event_type,
        "schema_version": DEFAULT_SCHEMA_VERSION,
        "occurred_at": occurred_at,
        "workspace": workspace,
        "dataset": dataset,
        "traceparent": traceparent,
    })[:-1] + b',"event_id":"'
    dumps, join = orjson.dumps, b"".join
    return [
        EncodedEvent(
            key.encode(), join((head, event_id.encode(), b'","data":', dumps(payload), b"}")), event_id, event_type
        )
        for payload, key, event_id in zip(payloads, keys, event_ids(len(payloads)), strict=True)
    ]

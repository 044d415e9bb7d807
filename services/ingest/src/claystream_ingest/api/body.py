"""Read a JSON body within the size limit: Content-Length first, then the streamed size."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from claystream_ingest.services.errors import BadRequest, PayloadTooLarge


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"request body is larger than {max_bytes} bytes; send smaller batches")


async def read_json_body(request: Request, *, max_bytes: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > max_bytes:
                raise _too_large(max_bytes)
        except ValueError:
            raise BadRequest("Content-Length: not an integer") from None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        chunks.append(chunk)
    if not size:
        raise BadRequest("the request body is empty; expected JSON")
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as error:
        raise BadRequest(f"the request body is not valid JSON: {error}") from None

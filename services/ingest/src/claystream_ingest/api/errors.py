"""Use-case failures → JSON error replies ``{"detail": ..., "errors": [...]}``."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from claystream_ingest.api.responses import json_response
from claystream_ingest.services.errors import IngestError


async def _ingest_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, IngestError)
    return json_response(error.body(), status_code=error.status_code, headers=error.headers())


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(IngestError, _ingest_error)

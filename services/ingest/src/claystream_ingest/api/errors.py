"""Errors → JSON replies of one shape: ``{"detail": ..., "errors": [{"index", "field", "reason"}]}``."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError

from claystream_ingest.api.responses import json_response
from claystream_ingest.services.errors import IngestError


async def _ingest_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, IngestError)
    return json_response(error.body(), status_code=error.status_code, headers=error.headers())


async def _request_invalid(_: Request, error: Exception) -> Response:
    """FastAPI's own checks (query / path / header parameters) in the same shape as ours."""
    assert isinstance(error, RequestValidationError)
    errors = [
        {"index": None, "field": ".".join(map(str, item.get("loc", ()))), "reason": item.get("msg", "invalid")}
        for item in error.errors()
    ]
    return json_response({"detail": "invalid request parameters", "errors": errors}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(IngestError, _ingest_error)
    app.add_exception_handler(RequestValidationError, _request_invalid)

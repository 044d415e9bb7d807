"""Use-case errors → HTTP answers ``{"detail": ..., "field": ...}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from claystream_annotate.services.errors import (
    AnnotateError,
    Conflict,
    Forbidden,
    Invalid,
    InvalidItems,
    NotFound,
    RateLimited,
    Unauthenticated,
    Unavailable,
)

STATUS = {NotFound: 404, Forbidden: 403, Unauthenticated: 401, Conflict: 409, Invalid: 422, RateLimited: 429, Unavailable: 503}


def error_status(error: AnnotateError) -> int:
    for kind, status in STATUS.items():
        if isinstance(error, kind):
            return status
    return 400


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AnnotateError)
    async def _annotate_error(request: Request, error: AnnotateError) -> JSONResponse:
        body: dict[str, object] = {"detail": str(error)}
        headers: dict[str, str] = {}
        if isinstance(error, Invalid):
            body = {
                "detail": [{"loc": error.field.split("."), "msg": error.reason, "type": "value_error", "field": error.field}],
                "field": error.field,
            }
            if isinstance(error, InvalidItems):  # the documented 422 shape (``detail`` a list) plus ``errors`` by item
                body = {
                    "detail": [{"loc": ["body", "items", item.get("index"), *str(item.get("field", "")).split(".")],
                                "msg": str(item.get("reason")), "type": "value_error"} for item in error.errors],
                    "errors": error.errors,
                }
        if isinstance(error, RateLimited):
            headers["Retry-After"] = str(error.retry_after_s)
        if isinstance(error, Unauthenticated):
            headers["WWW-Authenticate"] = "Cookie, ApiKey"
        return JSONResponse(body, status_code=error_status(error), headers=headers)

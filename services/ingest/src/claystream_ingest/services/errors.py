"""Failures of the ingest use cases; the API maps each to its HTTP status."""

from __future__ import annotations

from typing import Any


class IngestError(Exception):
    status_code = 400

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.detail}
        if self.errors is not None:
            body["errors"] = self.errors
        return body

    def headers(self) -> dict[str, str]:
        return {}


class BadRequest(IngestError):
    status_code = 400


class Unauthorized(IngestError):
    status_code = 401

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'ApiKey header="X-API-Key"'}


class Forbidden(IngestError):
    status_code = 403


class NotFound(IngestError):
    status_code = 404


class PayloadTooLarge(IngestError):
    status_code = 413


class InvalidItems(IngestError):
    """All-or-nothing rejection: ``errors`` lists every bad item by index, field and reason."""

    status_code = 422


class RateLimited(IngestError):
    status_code = 429

    def __init__(self, detail: str, *, retry_after_s: float) -> None:
        super().__init__(detail)
        self.retry_after_s = retry_after_s

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, "retry_after_s": round(self.retry_after_s, 3)}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, int(self.retry_after_s + 0.999)))}


class KafkaUnavailable(IngestError):
    status_code = 503

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__(detail)
        self.reason = reason

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, "reason": self.reason, "accepted": 0, "retryable": True}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}


class StoreUnavailable(IngestError):
    """MongoDB (keys, datasets) did not answer: nothing was accepted."""

    status_code = 503

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, "accepted": 0, "retryable": True}

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}

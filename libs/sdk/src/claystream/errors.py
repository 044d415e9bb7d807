"""Errors the SDK raises (the server's JSON error body is kept on them)."""

from __future__ import annotations

from typing import Any


class ClaystreamError(Exception):
    """Base of every SDK error."""


class ApiError(ClaystreamError):
    """The service answered with an error status (after any retries)."""

    def __init__(self, status_code: int, body: Any, *, method: str = "", url: str = "") -> None:
        self.status_code = status_code
        self.body = body
        detail = body.get("detail") if isinstance(body, dict) else body
        super().__init__(f"{method} {url} -> {status_code}: {detail}")

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors = self.body.get("errors") if isinstance(self.body, dict) else None
        return list(errors or [])


class ValidationFailed(ApiError):
    """422: ``errors`` lists every bad item by index (within the whole ``log`` call), field and reason."""

    def __init__(self, status_code: int, body: Any, *, accepted_before: int, method: str = "", url: str = "") -> None:
        super().__init__(status_code, body, method=method, url=url)
        self.accepted_before = accepted_before

    @property
    def errors(self) -> list[dict[str, Any]]:
        """Batch errors (``errors``), or FastAPI's ``detail`` list mapped to ``{"index", "field", "reason"}``."""
        found = super().errors
        if found or not isinstance(self.body, dict) or not isinstance(self.body.get("detail"), list):
            return found
        return [{"index": None, "field": item.get("field") or ".".join(map(str, item.get("loc", []))),
                 "reason": item.get("msg")} for item in self.body["detail"] if isinstance(item, dict)]

    def __str__(self) -> str:
        lines = [super().__str__()]
        for error in self.errors[:20]:
            lines.append(f"  item {error.get('index')}: {error.get('field')}: {error.get('reason')}")
        if len(self.errors) > 20:
            lines.append(f"  ... and {len(self.errors) - 20} more")
        return "\n".join(lines)


class Unauthorized(ApiError):
    """401: no valid API key."""


class Forbidden(ApiError):
    """403: the key's role does not allow this."""


class NotFound(ApiError):
    """404: no such workspace, dataset, record or user (or not visible to this key)."""


class Conflict(ApiError):
    """409: it exists already, or changed meanwhile."""


ERRORS_BY_STATUS: dict[int, type[ApiError]] = {401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict}


def error_for(status_code: int, body: Any, *, method: str = "", url: str = "", accepted_before: int = 0) -> ApiError:
    """The typed error for an HTTP error answer."""
    if status_code == 422:
        return ValidationFailed(status_code, body, accepted_before=accepted_before, method=method, url=url)
    return ERRORS_BY_STATUS.get(status_code, ApiError)(status_code, body, method=method, url=url)

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

    def __str__(self) -> str:
        lines = [super().__str__()]
        for error in self.errors[:20]:
            lines.append(f"  item {error.get('index')}: {error.get('field')}: {error.get('reason')}")
        if len(self.errors) > 20:
            lines.append(f"  ... and {len(self.errors) - 20} more")
        return "\n".join(lines)

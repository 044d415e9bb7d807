"""Use-case errors; the API maps them to HTTP statuses (see ``api/errors.py``)."""

from __future__ import annotations


class AnnotateError(Exception):
    """Base of every error a use case raises on purpose."""


class NotFound(AnnotateError):
    """The thing does not exist, or the caller may not know it exists (other workspaces)."""


class Forbidden(AnnotateError):
    """The caller is known to the workspace but their role does not allow this."""


class Unauthenticated(AnnotateError):
    """No valid credentials."""


class Conflict(AnnotateError):
    """The thing already exists or changed under us."""


class RateLimited(AnnotateError):
    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Invalid(AnnotateError):
    """Bad input: names the field (e.g. ``values.sentiment``) and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class InvalidItems(Invalid):
    """Bad items in a batch: every problem as ``{"index", "field", "reason"}``; nothing was stored."""

    def __init__(self, errors: list[dict[str, object]]) -> None:
        first = errors[0] if errors else {"field": "items", "reason": "invalid"}
        super().__init__(str(first["field"]), f"{len(errors)} invalid item(s); first: item {first.get('index')}: {first['reason']}")
        self.errors = errors


class Unavailable(AnnotateError):
    """Another service this answer needs does not answer now (e.g. the trainer for its embeddings); retry later."""

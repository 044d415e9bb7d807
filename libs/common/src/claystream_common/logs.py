"""JSON logging with trace ids (one line per record, stdout)."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from opentelemetry import trace

_REDACTED_KEYS = ("password", "api_key", "apikey", "secret", "authorization", "cookie", "token")
# a plaintext API key (cs_<16 chars>_<secret>) wherever it appears: message, values, tracebacks
_API_KEY_RE = re.compile(r"cs_[0-9A-Za-z]{16}_[0-9A-Za-z_\-]+")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": _scrub(record.getMessage()),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            payload["trace_id"] = format(span_context.trace_id, "032x")
            payload["span_id"] = format(span_context.span_id, "016x")
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            payload.update(_redact(extra))
        if record.exc_info:
            payload["exc"] = _scrub(self.formatException(record.exc_info))
        return json.dumps(payload, default=lambda value: _scrub(str(value)))


def _is_secret(key: object) -> bool:
    lowered = str(key).lower().replace("-", "_")  # X-API-Key, Set-Cookie...
    return any(word in lowered for word in _REDACTED_KEYS)


def _scrub(text: str) -> str:
    return _API_KEY_RE.sub("cs_***", text)


def _redact(value: object, depth: int = 0) -> object:
    """Secret-named keys become ``***`` at any depth; API-key-shaped strings are masked."""
    if depth > 8:
        return "..."
    if isinstance(value, dict):
        return {k: ("***" if _is_secret(k) else _redact(v, depth + 1)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact(v, depth + 1) for v in value]
    if isinstance(value, str):
        return _scrub(value)
    return value


def setup_logging(level: str = "INFO", *, json_lines: bool = True) -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "pymongo", "httpx", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    for own_handlers in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's loggers print through handlers of their own (plain text, not propagated): its start-up lines and
        # the traceback of an unhandled error then bypassed the JSON lines and the scrubbing
        server_logger = logging.getLogger(own_handlers)
        server_logger.handlers[:] = []
        server_logger.propagate = True

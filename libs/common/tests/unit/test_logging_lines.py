"""Every log line of a service is one JSON object, uvicorn's own included."""

from __future__ import annotations

import json
import logging
import logging.config

import pytest
from claystream_common.logs import setup_logging


@pytest.fixture()
def restored_logging():  # type: ignore[no-untyped-def]
    names = ("", "uvicorn", "uvicorn.error", "uvicorn.access")
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate, logging.getLogger(n).level) for n in names}
    yield
    for name, (handlers, propagate, level) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:], logger.propagate, logger.level = handlers, propagate, level


def test_uvicorn_errors_and_start_up_lines_are_json_lines(restored_logging, capsys) -> None:  # type: ignore[no-untyped-def]
    """uvicorn configures its loggers with plain-text handlers that do not propagate: an unhandled error's traceback
    reached the log as ~120 plain lines, without trace ids and unscrubbed."""
    from uvicorn.config import LOGGING_CONFIG

    logging.config.dictConfig(LOGGING_CONFIG)  # what `uvicorn` does before it imports the app
    setup_logging("INFO", json_lines=True)  # what the app's lifespan does
    logging.getLogger("uvicorn.error").info("Started server process [1]")
    try:
        raise RuntimeError("boom with cs_abcdefghijklmnop_0123456789abcdef0123456789abcdef")
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # each line is one JSON object
    assert [r["msg"] for r in records] == ["Started server process [1]", "Exception in ASGI application"], records
    assert "RuntimeError" in json.dumps(records[1]) and "0123456789abcdef0123456789abcdef" not in json.dumps(records[1])

"""Waiting for the embedded broker prints nothing while it starts."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest
from claystream_devstack.servers import ping_kafka


def test_a_broker_not_listening_yet_logs_no_error(caplog: pytest.LogCaptureFixture) -> None:
    """aiokafka logged every refused connection of the readiness wait at ERROR: each `make run` printed
    "Unable connect to 127.0.0.1:19092" although the start then succeeded."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    level = logging.getLogger("aiokafka").level
    with caplog.at_level(logging.DEBUG), pytest.raises(Exception):  # noqa: B017,PT011 - any failure means "not yet"
        asyncio.run(ping_kafka(f"127.0.0.1:{port}"))
    assert not [r for r in caplog.records if r.name.startswith("aiokafka") and r.levelno >= logging.ERROR]
    assert logging.getLogger("aiokafka").level == level  # the service's own logging is left as it was

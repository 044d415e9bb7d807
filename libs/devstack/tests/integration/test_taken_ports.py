"""A port saved by an earlier run and taken since is replaced by a free one (README: "a busy port is replaced")."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from claystream_devstack.processes import free_port
from claystream_devstack.servers import EmbeddedStack, StackPorts


def test_a_saved_port_taken_since_the_last_run_is_replaced(tmp_path: Path) -> None:
    saved = StackPorts(kafka=free_port(), mongo=free_port(), redis=free_port())
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "stack.json").write_text(json.dumps({"kafka": saved.kafka, "mongo": saved.mongo, "redis": saved.redis}))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:  # something else took the saved Redis port
        squatter.bind(("127.0.0.1", saved.redis))
        squatter.listen()
        stack = EmbeddedStack(tmp_path)
        assert stack.ports == saved
        try:
            stack.start(timeout_s=60)  # failed with "address already in use" before
            assert stack.ports.redis != saved.redis and (stack.ports.kafka, stack.ports.mongo) == (saved.kafka, saved.mongo)
            assert all(stack.running().values())
            assert json.loads((tmp_path / "stack.json").read_text())["redis"] == stack.ports.redis  # `down`/`status` find it
        finally:
            stack.stop()

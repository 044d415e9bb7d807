"""Port choice: defaults when free, random free ports on request (tests beside a running dev stack)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from claystream_devstack.processes import FREE_PORTS_ENV, free_port, port_is_free
from claystream_devstack.servers import EmbeddedStack
from claystream_devstack.services import SERVICES, ServiceLauncher

DEFAULT_STACK_PORTS = {19092, 27117, 16379}
DEFAULT_SERVICE_PORTS = {spec.default_port for spec in SERVICES}


def test_free_port_never_hands_out_the_same_port_twice() -> None:
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == 50
    assert all(port_is_free(port) for port in ports)


def test_a_taken_preferred_port_is_not_used() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        assert not port_is_free(taken)
        assert free_port(taken) != taken


@pytest.mark.parametrize("how", ["argument", "environment"])
def test_free_ports_avoid_the_defaults_and_are_kept_in_the_state_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    if how == "environment":
        monkeypatch.setenv(FREE_PORTS_ENV, "1")
        stack = EmbeddedStack(tmp_path)
    else:
        monkeypatch.delenv(FREE_PORTS_ENV, raising=False)
        stack = EmbeddedStack(tmp_path, free_ports=True)
    chosen = {stack.ports.kafka, stack.ports.mongo, stack.ports.redis}
    assert len(chosen) == 3 and not chosen & DEFAULT_STACK_PORTS

    launcher = ServiceLauncher(stack)
    for spec in SERVICES:
        launcher.ports[spec.name] = free_port(None if stack.free_ports else spec.default_port)
    assert not set(launcher.ports.values()) & DEFAULT_SERVICE_PORTS

    # `down` / `status` later find the same ports through the state folder
    (tmp_path / "stack.json").write_text(json.dumps({"kafka": stack.ports.kafka, "mongo": stack.ports.mongo,
                                                     "redis": stack.ports.redis}))
    monkeypatch.delenv(FREE_PORTS_ENV, raising=False)
    assert EmbeddedStack(tmp_path).ports == stack.ports


def test_without_the_request_the_defaults_are_preferred(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(FREE_PORTS_ENV, raising=False)
    from claystream_devstack import processes

    if not port_is_free(19092) or 19092 in processes._handed_out:
        pytest.skip("19092 is in use here (a dev stack is running)")
    stack = EmbeddedStack(tmp_path)
    assert not stack.free_ports
    assert stack.ports.kafka == 19092

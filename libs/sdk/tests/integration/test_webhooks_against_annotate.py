"""``client.webhooks`` against the real annotate service (uvicorn, embedded stack), delivering to the
README's ten-line FastAPI receiver, run exactly as documented (only the secret filled in)."""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from claystream import Client, ValidationFailed
from claystream_annotate.config import AnnotateSettings
from claystream_annotate.main import create_app
from claystream_devstack.processes import free_port
from claystream_devstack.pytest_plugin import service_env

README = Path(__file__).resolve().parents[2] / "README.md"
OWNER, PASSWORD = "owner", "owner-password-1"


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def annotate_url(embedded_stack) -> Iterator[str]:  # type: ignore[no-untyped-def]
    env = service_env(embedded_stack, "CLAYSTREAM_ANNOTATE_", f"sdk{uuid.uuid4().hex[:8]}")
    values = {k.removeprefix("CLAYSTREAM_ANNOTATE_").lower(): v for k, v in env.items()}
    settings = AnnotateSettings(**values, owner_username=OWNER, owner_password=PASSWORD, consumers_enabled=False,
                                webhook_allow_private_targets=True, webhook_poll_s=0.1)
    with serving(create_app(settings)) as url:
        yield url


def admin_key(annotate_url: str) -> str:
    with httpx.Client(base_url=annotate_url) as http:
        login = http.post("/api/v1/auth/login", json={"username": OWNER, "password": PASSWORD}).json()
        key = http.post("/api/v1/workspaces/default/api-keys", json={"name": "hooks", "role": "admin"},
                        headers={"X-CSRF-Token": login["csrf_token"]})
        assert key.status_code == 201, key.text
        return key.json()["api_key"]


def readme_receiver(secret: str) -> dict[str, Any]:
    text = README.read_text()
    code = re.search(r"<!-- fastapi-receiver -->\s*```python\n(.*?)```", text, re.DOTALL).group(1)  # type: ignore[union-attr]
    assert len([line for line in code.splitlines() if line.strip()]) <= 14
    namespace: dict[str, Any] = {}
    exec(code.replace('"whsec_..."', repr(secret)), namespace)  # noqa: S102 - the documented code, as written
    return namespace


def test_manage_subscriptions_and_receive_with_the_readme_receiver(annotate_url: str) -> None:
    client = Client("http://127.0.0.1:9", admin_key(annotate_url), annotate_url=annotate_url, workspace="default")
    with client:
        assert "drift.detected" in client.webhooks.event_types()
        with pytest.raises(ValidationFailed) as bad:
            client.webhooks.create("http://127.0.0.1:9/x", ["drift.nope"])
        assert bad.value.body["field"] == "event_types"

        hook = client.webhooks.create("http://127.0.0.1:1/placeholder", ["drift.detected"], description="sdk test")
        receiver_ns = readme_receiver(hook["secret"])
        with serving(receiver_ns["app"]) as receiver_url:
            hook = client.webhooks.update(hook["id"], url=f"{receiver_url}/claystream")
            assert [h["id"] for h in client.webhooks.list()] == [hook["id"]]
            with pytest.raises(ValidationFailed):
                client.webhooks.create(f"{receiver_url}/claystream", ["drift.detected"])  # duplicate

            sent = client.webhooks.send_test(hook["id"])
            deadline = time.monotonic() + 15
            while (log := client.webhooks.deliveries(hook["id"]))[0]["status"] != "delivered":
                assert time.monotonic() < deadline, log
                time.sleep(0.05)
            assert sent["event_id"] in receiver_ns["seen"] and log[0]["last_status_code"] == 200
            detail = client.webhooks.delivery(hook["id"], log[0]["id"])
            assert detail["attempt_log"][0]["status_code"] == 200 and '"webhook.test"' in detail["body"]

            client.webhooks.replay(hook["id"], log[0]["id"])
            while len(log := client.webhooks.deliveries(hook["id"])) < 2 or log[0]["status"] != "delivered":
                assert time.monotonic() < deadline, log
                time.sleep(0.05)
            assert receiver_ns["seen"] == {sent["event_id"]}  # the replay carried the same webhook-id

            # a receiver with another secret answers 401: recorded as a failed attempt
            client.webhooks.update(hook["id"], secret="another-secret-of-20-chars")
            client.webhooks.send_test(hook["id"])
            while (log := client.webhooks.deliveries(hook["id"]))[0]["last_status_code"] != 401:
                assert time.monotonic() < deadline, log
                time.sleep(0.05)
            assert client.webhooks.disable(hook["id"])["enabled"] is False
            client.webhooks.delete(hook["id"])
            assert client.webhooks.list() == []

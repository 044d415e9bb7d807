"""GET /api/v1/models and /api/v1/models/{model}/overview: auth, workspace scoping, shapes, 4xx."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import httpx
import pytest
from claystream_common.apikeys import generate_api_key
from claystream_common.settings import load_settings
from claystream_devstack.pytest_plugin import service_env
from claystream_monitor.config import MonitorSettings
from claystream_monitor.main import create_app
from claystream_monitor.services.ports import ModelKey

TOKEN = "api-test-service-token-0123456789"


@contextlib.asynccontextmanager
async def monitor_client(embedded_stack, unique_name, monkeypatch, base_url: str = "http://monitor", **extra: str):  # type: ignore[no-untyped-def]
    """The monitor in-process on the embedded stack (no consumers), and an HTTP client on it."""
    env = service_env(embedded_stack, "CLAYSTREAM_MONITOR_", unique_name, consumers_enabled="false", service_token=TOKEN,
                      embedder="none", **extra)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = create_app(load_settings(MonitorSettings))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url) as http,
    ):
        http.app = app  # type: ignore[attr-defined]
        yield http


@pytest.fixture
async def client(embedded_stack, unique_name, monkeypatch):  # type: ignore[no-untyped-def]
    async with monitor_client(embedded_stack, unique_name, monkeypatch) as http:
        yield http


async def seed(app) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    store = app.state.deps.store
    db = store.db
    for workspace in ("acme", "other"):
        key = ModelKey(workspace, "reviews", "v1")
        await store.register_model(key, {"champion": True})
        start = int(datetime.now(UTC).timestamp()) // 60 * 60
        await store.add_traffic(key, {str(start): {"count": 5, "labels.positive": 3, "labels.negative": 2}})
        await store.store_alerts([{**key.as_dict(), "model_key": key.id, "transition": "detected", "check": "text_length",
                                   "statistic": 0.5, "threshold": 0.2, "p_value": 1e-9, "window": {"events_seen": 300},
                                   "evidence": {}, "event_id": f"e-{workspace}", "at": datetime.now(UTC)}])
    keys = {}
    for workspace in ("acme", "other"):
        new = generate_api_key()
        await db["api_keys"].insert_one({"_id": new.key_id, "workspace": workspace, "name": f"k-{workspace}", "role": "viewer",
                                         "secret_sha256": new.secret_sha256, "created_at": datetime.now(UTC), "revoked": False})
        keys[workspace] = new.plaintext
    return keys["acme"], keys["other"]


async def test_models_are_scoped_to_the_callers_workspace(client: httpx.AsyncClient) -> None:
    acme_key, _ = await seed(client.app)  # type: ignore[attr-defined]
    mine = await client.get("/api/v1/models", headers={"X-API-Key": acme_key})
    assert mine.status_code == 200
    assert [(m["workspace"], m["model"], m["champion"]) for m in mine.json()["items"]] == [("acme", "reviews", True)]
    everything = await client.get("/api/v1/models", headers={"Authorization": f"Bearer {TOKEN}"})
    assert {m["workspace"] for m in everything.json()["items"]} == {"acme", "other"}
    scoped = await client.get("/api/v1/models", headers={"Authorization": f"Bearer {TOKEN}", "X-Claystream-Workspace": "other"})
    assert {m["workspace"] for m in scoped.json()["items"]} == {"other"}


async def test_overview_shape(client: httpx.AsyncClient) -> None:
    acme_key, _ = await seed(client.app)  # type: ignore[attr-defined]
    response = await client.get("/api/v1/models/reviews/overview", headers={"X-API-Key": acme_key}, params={"hours": 2})
    assert response.status_code == 200
    body = response.json()
    assert body["model"]["workspace"] == "acme"
    assert body["traffic"][0]["count"] == 5 and body["traffic"][0]["labels"] == {"negative": 2, "positive": 3}
    assert body["alerts"][0]["check"] == "text_length" and body["labels"] == ["negative", "positive"]
    assert {"drift", "accuracy", "samples", "scores"} <= set(body)


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [({}, "authentication required"), ({"X-API-Key": "nope"}, "X-API-Key: malformed"),
     ({"X-API-Key": "cs_0123456789abcdef_wrong"}, "X-API-Key: invalid or revoked"), ({"Authorization": "Bearer wrong"}, "invalid service token")],
)
async def test_refuses_unauthenticated_callers_naming_the_reason(client: httpx.AsyncClient, headers, fragment) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/models", headers=headers)
    assert response.status_code == 401 and fragment in response.json()["detail"]


async def test_unknown_model_and_bad_query_are_4xx_with_the_field(client: httpx.AsyncClient) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    missing = await client.get("/api/v1/models/absent/overview", headers=auth)
    assert missing.status_code == 404 and "model" in missing.json()["detail"]
    bad = await client.get("/api/v1/models/absent/overview", headers=auth, params={"hours": -1})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "hours"


async def test_a_model_is_reached_by_workspace_and_by_a_name_holding_a_slash(client: httpx.AsyncClient) -> None:
    """Same-named models of two workspaces: the service token always got the first; an ``org/model`` name was
    listed, then 404 in the API and a broken link on the dashboard."""
    await seed(client.app)  # type: ignore[attr-defined]
    store = client.app.state.deps.store  # type: ignore[attr-defined]
    slashed = ModelKey("acme", "team/sentiment", "v2")
    await store.register_model(slashed, {"champion": True})
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for workspace in ("acme", "other"):
        chosen = await client.get("/api/v1/models/reviews/overview", headers=auth, params={"workspace": workspace})
        assert chosen.status_code == 200 and chosen.json()["model"]["workspace"] == workspace
    found = await client.get("/api/v1/models/team/sentiment/overview", headers=auth)
    assert found.status_code == 200 and found.json()["model"]["model"] == "team/sentiment"
    escaped = await client.get("/api/v1/models/team%2Fsentiment/overview", headers=auth, params={"version": "v2"})
    assert escaped.status_code == 200 and escaped.json()["model"]["model_version"] == "v2"


async def test_a_signed_out_browser_is_sent_to_annotate_s_public_address(embedded_stack, unique_name, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """In compose and Kubernetes annotate_url is the service address (http://annotate:8000): the sign-in redirect and
    the nav link sent browsers to a host only the services resolve."""
    async with monitor_client(embedded_stack, unique_name, monkeypatch, base_url="http://localhost:8003",
                              annotate_url="http://annotate:8000", annotate_public_url="http://localhost:8000") as http:
        answer = await http.get("/dashboard")
    assert answer.status_code == 303
    assert answer.headers["location"] == "http://localhost:8000/login?next=http%3A%2F%2Flocalhost%3A8003%2Fdashboard"

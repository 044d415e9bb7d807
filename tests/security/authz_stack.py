"""The four services in-process on one embedded stack, seeded for the authorisation matrix.

Workspaces ``alpha`` (the one every call targets) and ``beta``; a dataset ``reviews`` with records in
both; users: the owner, ``admin-alpha``, ``admin-beta``, ``annotator-alpha`` and ``victim`` (an
annotator of alpha whom user-management routes act on); API keys of alpha with role admin and
annotator (plus a ``victim`` key for revocation).  Every principal is a set of request headers.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from claystream_common.events import RecordIngested, new_event
from claystream_common.web_sessions import SESSION_COOKIE
from claystream_devstack.pytest_plugin import service_env
from fastapi import FastAPI

TOKEN = "matrix-service-token-0123456789abcdef"
SECRET = "matrix-secret-key-0123456789abcdef"
METRICS_TOKEN = "matrix-metrics-token-0123456789"
OWNER, OWNER_PASSWORD = "owner", "owner-password-1"
PASSWORD = "member-password-1"
SESSION_MAX_AGE_S = 3600
WORKSPACE, OTHER = "alpha", "beta"
DATASET, DOOMED = "reviews", "doomed"
DATASET_BODY = {
    "name": DATASET, "fields": [{"name": "text"}],
    "questions": [{"name": "sentiment", "type": "label", "labels": ["pos", "neg"]}],
    "metadata_properties": [{"name": "genre", "type": "terms"}],
    "vectors": [{"name": "mini", "dimensions": 2}],
    "trainer": {"enabled": False},
}
# webhook targets: loopback's discard port (allowed by webhook_allow_private_targets, refused at once when sent to)
HOOK_URL = "http://127.0.0.1:9/matrix"
HOOK_BODY = {"url": HOOK_URL, "event_types": ["drift.detected"]}
PRINCIPALS = ("owner", "admin", "admin_other", "annotator", "key_admin", "key_annotator", "service", "anonymous")
USERS = {"owner": OWNER, "admin": "admin-alpha", "admin_other": "admin-beta", "annotator": "annotator-alpha", "victim": "victim",
         "setup_owner": OWNER}


def _settings(cls: type[Any], stack: Any, name: str, db: str, **extra: str) -> Any:
    from claystream_common.settings import load_settings

    prefix = f"CLAYSTREAM_{name.upper()}_"
    env = service_env(stack, prefix, db, service_token=TOKEN, secret_key=SECRET, kafka_consumer_group=f"{name}-{db}",
                      public_docs="false", public_metrics="false", metrics_token=METRICS_TOKEN, **extra)
    return load_settings(cls, **{key.removeprefix(prefix).lower(): value for key, value in env.items()})


def build_apps(stack: Any, db: str, models_dir: str) -> dict[str, FastAPI]:
    from claystream_annotate.config import AnnotateSettings
    from claystream_annotate.main import create_app as annotate_app
    from claystream_ingest.config import IngestSettings
    from claystream_ingest.main import create_app as ingest_app
    from claystream_monitor.config import MonitorSettings
    from claystream_monitor.main import create_app as monitor_app
    from claystream_trainer.config import TrainerSettings
    from claystream_trainer.main import create_app as trainer_app
    from claystream_trainer.predict_main import create_app as predict_app

    return {
        "annotate": annotate_app(_settings(
            AnnotateSettings, stack, "annotate", db, owner_username=OWNER, owner_password=OWNER_PASSWORD,
            owner_workspace=WORKSPACE, login_rate_per_minute="100000", consumers_enabled="false", outbox_enabled="false",
            session_max_age_s=str(SESSION_MAX_AGE_S), webhook_allow_private_targets="true")),
        "ingest": ingest_app(_settings(IngestSettings, stack, "ingest", db, api_key_cache_ttl_s="0")),
        "trainer": trainer_app(_settings(TrainerSettings, stack, "trainer", db, embedder="hashing", consumers_enabled="false",
                                         finetune_enabled="false", models_dir=models_dir)),
        "monitor": monitor_app(_settings(MonitorSettings, stack, "monitor", db, embedder="none", consumers_enabled="false",
                                         session_max_age_s=str(SESSION_MAX_AGE_S))),
        "predict": predict_app(_settings(TrainerSettings, stack, "predict", db, embedder="hashing", models_dir=models_dir,
                                         service_name="predict")),
    }


def iter_routes(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path) of every route the app answers, API and pages alike (HEAD aside)."""
    for route in app.routes:
        nested = getattr(route, "effective_route_contexts", None)
        for found in (nested() if nested is not None else [route]):
            for method in sorted(getattr(found, "methods", None) or ()):
                if method != "HEAD":
                    yield method, str(found.path)


@dataclass
class Stack:
    apps: dict[str, FastAPI]
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)

    def annotate_deps(self) -> Any:
        return self.apps["annotate"].state.deps

    async def call(self, service: str, method: str, url: str, principal: str, body: Any = None, *, form: bool = False) -> httpx.Response:
        client = self.clients[service]
        client.cookies.clear()
        if form:
            return await client.request(method, url, headers=self.headers[principal], data=body)
        return await client.request(method, url, headers=self.headers[principal], json=body)

    async def login(self, principal: str) -> None:
        """(Re)open a session for a user principal: a fresh cookie and CSRF token."""
        client = self.clients["annotate"]
        client.cookies.clear()
        password = OWNER_PASSWORD if USERS[principal] == OWNER else PASSWORD
        answer = await client.post("/api/v1/auth/login", json={"username": USERS[principal], "password": password})
        assert answer.status_code == 200, answer.text
        cookie = answer.cookies[SESSION_COOKIE]
        client.cookies.clear()
        self.headers[principal] = {"Cookie": f"{SESSION_COOKIE}={cookie}", "X-CSRF-Token": answer.json()["csrf_token"]}

    async def as_owner(self, method: str, url: str, body: Any = None) -> httpx.Response:
        return await self.call("annotate", method, url, "service_owner", body)

    async def seed(self) -> None:
        self.headers["anonymous"] = {}
        self.headers["service"] = {"Authorization": f"Bearer {TOKEN}", "X-Claystream-Workspace": WORKSPACE}
        await self.login("owner")
        self.headers["service_owner"] = self.headers["owner"]
        base = "/api/v1/workspaces"
        assert (await self.as_owner("POST", base, {"name": OTHER})).status_code == 201
        for workspace in (WORKSPACE, OTHER):
            created = await self.as_owner("POST", f"{base}/{workspace}/datasets", DATASET_BODY)
            assert created.status_code == 201, created.text
            self.ids["record" if workspace == WORKSPACE else "record_other"] = (
                await self.records(created.json(), ["a fine film", "a dull film"]))[0]
        for principal, username, role, workspace in (
            ("admin", "admin-alpha", "admin", WORKSPACE), ("admin_other", "admin-beta", "admin", OTHER),
            ("annotator", "annotator-alpha", "annotator", WORKSPACE), ("victim", "victim", "annotator", WORKSPACE),
        ):
            made = await self.as_owner("POST", f"{base}/{workspace}/users", {"username": username, "password": PASSWORD, "role": role})
            assert made.status_code == 201, made.text
            self.ids[principal] = made.json()["id"]
            await self.login(principal)
        for principal, role in (("key_admin", "admin"), ("key_annotator", "annotator"), ("victim_key", "annotator")):
            key = (await self.as_owner("POST", f"{base}/{WORKSPACE}/api-keys", {"name": principal, "role": role})).json()
            self.headers[principal] = {"X-API-Key": key["api_key"]}
            self.ids[principal] = key["key_id"]
        for workspace, suffix in ((WORKSPACE, ""), (OTHER, "_other")):
            hook = await self.as_owner("POST", f"{base}/{workspace}/webhooks", HOOK_BODY)
            assert hook.status_code == 201, hook.text
            self.ids["subscription" + suffix] = hook.json()["id"]
            sent = await self.as_owner("POST", f"{base}/{workspace}/webhooks/{hook.json()['id']}/test")
            assert sent.status_code == 202, sent.text
            self.ids["delivery" + suffix] = sent.json()["id"]

    async def records(self, dataset: dict[str, Any], texts: list[str], prefix: str = "x") -> list[str]:
        """Store records as the ingest consumer would; their ids."""
        from claystream_annotate.consumers.handlers import on_records_ingested

        deps = self.annotate_deps()
        events = [
            new_event("record.ingested", RecordIngested(record_id=uuid.uuid4().hex, external_id=f"{prefix}{i}", fields={"text": text},
                                                        metadata={"genre": "drama"}, vectors={"mini": [1.0, float(i)]}),
                      dataset=dataset["name"], workspace=dataset["workspace"])
            for i, text in enumerate(texts)
        ]
        await on_records_ingested(events, records=deps.records, datasets=deps.datasets, queue=deps.queue, counters=deps.counters,
                                  vectors=deps.vectors)
        return [event.data.record_id for event in events]


@contextlib.asynccontextmanager
async def running_stack(embedded_stack: Any, models_dir: str) -> AsyncIterator[Stack]:
    db = f"authz{uuid.uuid4().hex[:10]}"
    apps = build_apps(embedded_stack, db, models_dir)
    async with contextlib.AsyncExitStack() as entered:
        stack = Stack(apps=apps)
        for name, app in apps.items():
            await entered.enter_async_context(app.router.lifespan_context(app))
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}.test")
            stack.clients[name] = await entered.enter_async_context(client)
        await stack.seed()
        yield stack

"""Shared helpers for the annotate api/ and integration/ tests: the app in-process against the
real embedded servers (fresh database per test), logged-in clients, datasets and records."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from claystream_annotate.bootstrap import Deps
from claystream_annotate.config import AnnotateSettings
from claystream_annotate.consumers.handlers import on_records_ingested
from claystream_annotate.main import create_app
from claystream_common.events import Envelope, RecordIngested, new_event
from claystream_common.ports import EventPublisher
from claystream_devstack.pytest_plugin import service_env
from claystream_devstack.servers import EmbeddedStack
from fastapi import FastAPI

OWNER, OWNER_PASSWORD = "owner", "owner-password-1"
PASSWORD = "member-password"
BASE = "/api/v1/workspaces"

DATASET = {
    "name": "reviews",
    "guidelines": "Label the **sentiment**.",
    "fields": [{"name": "text"}],
    "questions": [{"name": "sentiment", "type": "label", "labels": ["pos", "neg"]}],
    "metadata_properties": [{"name": "genre", "type": "terms"}],
}


def settings_for(stack: EmbeddedStack, db: str, **extra: Any) -> AnnotateSettings:
    env = service_env(stack, "CLAYSTREAM_ANNOTATE_", db)
    values = {k.removeprefix("CLAYSTREAM_ANNOTATE_").lower(): v for k, v in env.items()}
    values.update(
        owner_username=OWNER, owner_password=OWNER_PASSWORD, login_rate_per_minute="100000",
        consumers_enabled="false", outbox_poll_s="0.05", kafka_consumer_group=f"annotate-{db}",
    )
    values.update({k: str(v) for k, v in extra.items()})
    return AnnotateSettings(**values)


@dataclass
class Annotate:
    app: FastAPI
    owner: httpx.AsyncClient
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def deps(self) -> Deps:
        return self.app.state.deps

    def client(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://annotate.test")
        self.clients.append(client)
        return client

    async def login(self, username: str, password: str = PASSWORD) -> httpx.AsyncClient:
        client = self.client()
        answer = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        client.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
        return client

    async def workspace(self, name: str) -> None:
        answer = await self.owner.post(BASE, json={"name": name})
        assert answer.status_code in (201, 409), answer.text

    async def member(self, username: str, role: str = "annotator", workspace: str = "default") -> httpx.AsyncClient:
        answer = await self.owner.post(f"{BASE}/{workspace}/users", json={"username": username, "password": PASSWORD, "role": role})
        assert answer.status_code == 201, answer.text
        return await self.login(username)

    async def dataset(self, workspace: str = "default", **overrides: Any) -> dict[str, Any]:
        answer = await self.owner.post(f"{BASE}/{workspace}/datasets", json={**DATASET, **overrides})
        assert answer.status_code == 201, answer.text
        return answer.json()

    async def records(self, dataset: dict[str, Any], texts: list[str], genres: list[str] | None = None) -> list[str]:
        """Store records exactly as the record.ingested consumer does; returns their ids."""
        events: list[Envelope[Any]] = []
        for i, text in enumerate(texts):
            data = RecordIngested(record_id=uuid.uuid4().hex, external_id=f"x{i}", fields={"text": text},
                                  metadata={"genre": (genres or ["drama"])[i % len(genres or ["drama"])]})
            events.append(new_event("record.ingested", data, dataset=dataset["name"], workspace=dataset["workspace"]))
        await on_records_ingested(events, records=self.deps.records, datasets=self.deps.datasets, queue=self.deps.queue, counters=self.deps.counters)
        return [e.data.record_id for e in events]


@contextlib.asynccontextmanager
async def running_annotate(stack: EmbeddedStack, db: str | None = None, *, publisher: EventPublisher | None = None, **extra: Any) -> AsyncIterator[Annotate]:
    app = create_app(settings_for(stack, db or f"t{uuid.uuid4().hex[:12]}", **extra), publisher=publisher)
    async with app.router.lifespan_context(app):
        annotate = Annotate(app=app, owner=httpx.AsyncClient())
        annotate.owner = await annotate.login(OWNER, OWNER_PASSWORD)
        try:
            yield annotate
        finally:
            for client in annotate.clients:
                await client.aclose()

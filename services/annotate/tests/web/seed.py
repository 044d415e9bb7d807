"""Test helpers shared by the web and browser tests: an in-process annotate app, datasets with
records (through the real ``record.ingested`` handler, minus Kafka), and signing in."""

from __future__ import annotations

import gzip
import itertools
import json
import re
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx
from claystream_annotate.config import AnnotateSettings
from claystream_annotate.consumers.handlers import on_records_ingested
from claystream_annotate.services.datasets import create_dataset
from claystream_annotate.services.principals import Principal, Role
from claystream_annotate.services.users import create_user
from claystream_common.datasets import record_id_for
from claystream_common.events import RecordIngested, RecordSuggestion, new_event
from claystream_devstack import demo_data
from claystream_devstack.pytest_plugin import service_env, shared_data_dir

PREFIX = "CLAYSTREAM_ANNOTATE_"
OWNER = ("web-owner", "owner-password-1234")
WORKSPACE = "default"
ROOT_OWNER = Principal(user_id="test", username="test", role=Role.OWNER, workspaces=None)


def settings_for(stack: Any, db_name: str, **extra: str) -> AnnotateSettings:
    env = service_env(
        stack, PREFIX, db_name, owner_username=OWNER[0], owner_password=OWNER[1], owner_workspace=WORKSPACE,
        login_rate_per_minute="1000", **extra,
    )
    return AnnotateSettings(**{key.removeprefix(PREFIX).lower(): value for key, value in env.items()})


def imdb_texts(count: int) -> list[str]:
    """The first ``count`` IMDb test reviews: from ../shared/data when present, else devstack's packaged sample."""
    path = shared_data_dir() / "imdb" / "test.jsonl.gz"
    if not path.exists():
        path = demo_data.SAMPLE_DIR / "imdb" / "test.jsonl.gz"
    with gzip.open(path, "rt") as handle:
        return [json.loads(line)["text"] for line in itertools.islice(handle, count)]


async def seed_dataset(
    deps: Any,
    name: str,
    texts: Iterable[str],
    *,
    labels: tuple[str, ...] = ("negative", "positive"),
    guidelines: str = "Label the **sentiment** of the review.",
    metadata: list[dict[str, Any]] | None = None,
    suggestions: list[tuple[str, float]] | None = None,
    metadata_properties: list[dict[str, Any]] | None = None,
    min_submitted: int = 1,
    workspace: str = WORKSPACE,
    questions: list[dict[str, Any]] | None = None,
    record_suggestions: list[list[dict[str, Any]]] | None = None,
) -> tuple[Any, list[str]]:
    """Create a dataset and ingest records (with suggestions, as ingest sends them) through the real handler."""
    spec = await create_dataset(
        {
            "name": name,
            "guidelines": guidelines,
            "fields": [{"name": "text", "title": "Review"}],
            "questions": questions or [{"name": "sentiment", "title": "Sentiment", "type": "label", "labels": list(labels)}],
            "metadata_properties": metadata_properties or [],
            "min_submitted": min_submitted,
        },
        actor=ROOT_OWNER,
        workspace=workspace,
        datasets=deps.datasets,
        counters=deps.counters,
        queue=deps.queue,
    )
    events, ids = [], []
    for position, text in enumerate(texts):
        record_id = record_id_for(workspace, name, f"r{position}")
        ids.append(record_id)
        suggested = []
        if suggestions and position < len(suggestions):
            label, score = suggestions[position]
            suggested = [RecordSuggestion(question="sentiment", value=label, score=score, agent="test-model", model_version="v1")]
        if record_suggestions and position < len(record_suggestions):
            suggested = [RecordSuggestion(**item) for item in record_suggestions[position]]
        data = RecordIngested(
            record_id=record_id, external_id=f"r{position}", fields={"text": text},
            metadata=metadata[position] if metadata else {}, suggestions=suggested,
        )
        events.append(new_event("record.ingested", data, dataset=name, workspace=workspace))
    await on_records_ingested(events, records=deps.records, datasets=deps.datasets, queue=deps.queue, counters=deps.counters)
    return spec, ids


async def add_user(deps: Any, role: str = "annotator", workspaces: list[str] | None = None, username: str | None = None) -> tuple[str, str]:
    username = username or f"u{uuid.uuid4().hex[:8]}"
    password = "annotator-password-1"
    await create_user(
        username=username, password=password, role=role, workspaces_list=workspaces if workspaces is not None else [WORKSPACE],
        users=deps.users, workspaces=deps.workspaces,
    )
    return username, password


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
LOGIN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> str:
    """Sign in through the login form; returns the session's CSRF token."""
    page = await client.get("/login")
    token = LOGIN_CSRF.search(page.text).group(1)
    response = await client.post("/login", data={"username": username, "password": password, "csrf_token": token, "next": "/"})
    assert response.status_code == 303, response.text
    home = await client.get("/")
    assert home.status_code == 200, home.text
    return CSRF_META.search(home.text).group(1)


def artifact(name: str) -> Path:
    """A path under the repository's test-artifacts/ (gitignored) for screenshots."""
    folder = Path(__file__).resolve().parents[4] / "test-artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name

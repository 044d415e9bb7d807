"""Roles × workspaces over the real servers: other workspaces are invisible (404), roles limit writes (403)."""

from __future__ import annotations

import pytest
from annotate_testing import BASE, DATASET, Annotate

# (who, workspace, method, path suffix, expected status)
MATRIX = [
    ("owner", "alpha", "GET", "", 200), ("owner", "beta", "GET", "", 200),
    ("owner", "beta", "PATCH", "", 200), ("owner", "beta", "GET", "/export", 200),
    ("admin_a", "alpha", "GET", "", 200), ("admin_a", "alpha", "PATCH", "", 200),
    ("admin_a", "alpha", "GET", "/metrics", 200), ("admin_a", "alpha", "GET", "/export", 200),
    ("admin_a", "beta", "GET", "", 404), ("admin_a", "beta", "PATCH", "", 404), ("admin_a", "beta", "GET", "/records", 404),
    ("annotator_a", "alpha", "GET", "", 200), ("annotator_a", "alpha", "GET", "/records", 200),
    ("annotator_a", "alpha", "GET", "/queue/next", 200),
    ("annotator_a", "alpha", "PATCH", "", 403), ("annotator_a", "alpha", "DELETE", "", 403),
    ("annotator_a", "alpha", "GET", "/metrics", 403), ("annotator_a", "alpha", "GET", "/export", 403),
    ("annotator_a", "beta", "GET", "", 404), ("annotator_a", "beta", "GET", "/records", 404),
    ("annotator_a", "beta", "GET", "/queue/next", 404), ("annotator_a", "beta", "PATCH", "", 404),
    ("annotator_b", "alpha", "GET", "", 404), ("annotator_b", "beta", "GET", "/queue/next", 200),
    ("key_a", "alpha", "GET", "/records", 200), ("key_a", "beta", "GET", "", 404),
    ("service_a", "alpha", "GET", "", 200), ("service_a", "alpha", "PATCH", "", 200), ("service_a", "beta", "GET", "", 404),
    ("nobody", "alpha", "GET", "", 401),
]


@pytest.fixture
async def cast(annotate: Annotate):  # type: ignore[no-untyped-def]
    for workspace in ("alpha", "beta"):
        await annotate.workspace(workspace)
        dataset = await annotate.dataset(workspace)
        await annotate.records(dataset, ["one", "two"])
    clients = {
        "owner": annotate.owner,
        "admin_a": await annotate.member("admin-a", "admin", "alpha"),
        "annotator_a": await annotate.member("annotator-a", "annotator", "alpha"),
        "annotator_b": await annotate.member("annotator-b", "annotator", "beta"),
        "nobody": annotate.client(),
    }
    key = (await annotate.owner.post(f"{BASE}/alpha/api-keys", json={"name": "k", "role": "admin"})).json()["api_key"]
    clients["key_a"] = annotate.client()
    clients["key_a"].headers["X-API-Key"] = key
    clients["service_a"] = annotate.client()
    clients["service_a"].headers.update({
        "Authorization": f"Bearer {annotate.deps.settings.service_token}", "X-Claystream-Workspace": "alpha"})
    return clients


async def test_authz_matrix(cast) -> None:  # type: ignore[no-untyped-def]
    failures = []
    for who, workspace, method, suffix, expected in MATRIX:
        url = f"{BASE}/{workspace}/datasets/{DATASET['name']}{suffix}"
        body = {"guidelines": f"changed by {who}"} if method == "PATCH" else None
        answer = await cast[who].request(method, url, json=body)
        if answer.status_code != expected:
            failures.append(f"{who} {method} {workspace}{suffix}: {answer.status_code} != {expected}")
    assert not failures, "\n".join(failures)


async def test_wrong_service_token_is_refused(annotate: Annotate) -> None:
    client = annotate.client()
    client.headers.update({"Authorization": "Bearer not-the-token-at-all", "X-Claystream-Workspace": "default"})
    assert (await client.get(f"{BASE}/default/datasets")).status_code == 401

"""Forms posted the way no page sends them (an audit of the web UI): never a 500, nothing saved behind an error,
nothing wiped by a part left out, nothing created under a workspace that does not exist."""

from __future__ import annotations

import sys
import uuid

seed = sys.modules["claystream_annotate_web_seed"]  # loaded by conftest.py

HX = {"HX-Request": "true"}
DEEP = "[" * 5000


def _name() -> str:
    return f"d{uuid.uuid4().hex[:10]}"


async def _responses(web_app, record_id: str) -> list:  # type: ignore[no-untyped-def]
    owner = await web_app.deps.users.by_username(seed.OWNER[0])
    stored = await web_app.deps.responses.get(f"{record_id}:{owner.id}")
    return [] if stored is None else [stored.values]


async def test_deeply_nested_json_is_a_422_naming_the_field(web_app, owner_client) -> None:  # type: ignore[no-untyped-def]
    client, csrf = owner_client
    name = _name()
    spans = [{"name": "ents", "type": "span", "labels": ["PER", "LOC"], "field": "text"}]
    _, ids = await seed.seed_dataset(web_app.deps, name, ["Ada met Bob"], questions=spans)
    settings = await client.post(f"/datasets/default/{name}/settings", data={"csrf_token": csrf, "fields": DEEP})
    assert settings.status_code == 422 and "fields: nested too deeply" in settings.text
    answer = await client.post(f"/datasets/default/{name}/records/{ids[0]}/response", data={"q.ents": DEEP, "status": "submitted"},
                               headers={**HX, "X-CSRF-Token": csrf})
    assert answer.status_code == 422 and "spans must be a JSON list" in answer.text


async def test_a_settings_post_keeps_the_parts_it_leaves_out(web_app, owner_client) -> None:  # type: ignore[no-untyped-def]
    client, csrf = owner_client
    name = _name()
    await seed.seed_dataset(web_app.deps, name, ["x"], metadata_properties=[{"name": "genre", "type": "terms"}])
    saved = await client.post(f"/datasets/default/{name}/settings", data={"csrf_token": csrf, "min_submitted": "2"})
    assert saved.status_code == 303, saved.text
    spec = await web_app.deps.datasets.get("default", name)
    assert spec["min_submitted"] == 2 and [p["name"] for p in spec["metadata_properties"]] == ["genre"]
    assert spec["guidelines"] == "Label the **sentiment** of the review." and spec["questions"][0]["name"] == "sentiment"


async def test_a_bad_filter_stops_a_bulk_label_before_it_is_written(web_app, owner_client) -> None:  # type: ignore[no-untyped-def]
    client, csrf = owner_client
    name = _name()
    _, ids = await seed.seed_dataset(web_app.deps, name, ["alpha", "beta"])
    answer = await client.post(f"/datasets/default/{name}/records/bulk", headers={**HX, "X-CSRF-Token": csrf},
                               data={"scope": "selected", "label": "negative", "record_id": [ids[0]], "q": "x" * 201})
    assert answer.status_code == 422 and "q" in answer.text
    assert await _responses(web_app, ids[0]) == []  # it was saved, then reported as failed


async def test_an_answer_whose_next_record_was_deleted_goes_on_to_the_queue(web_app, owner_client) -> None:  # type: ignore[no-untyped-def]
    client, csrf = owner_client
    name = _name()
    _, ids = await seed.seed_dataset(web_app.deps, name, ["alpha", "beta", "gamma"])
    answer = await client.post(f"/datasets/default/{name}/records/{ids[0]}/response", headers={**HX, "X-CSRF-Token": csrf},
                               data={"q.sentiment": "positive", "status": "submitted", "forward": "deadbeef"})
    assert answer.status_code == 200, answer.text  # saved, and the next record shown (was a 404 after saving)
    assert await _responses(web_app, ids[0]) == [{"sentiment": "positive"}]
    assert 'data-record-id="' in answer.text


async def test_nothing_is_created_under_a_workspace_that_does_not_exist(web_app, owner_client) -> None:  # type: ignore[no-untyped-def]
    client, csrf = owner_client
    ghost = f"ghost-{uuid.uuid4().hex[:6]}"
    username, _ = await seed.add_user(web_app.deps, "admin")
    user_id = (await web_app.deps.users.by_username(username)).id
    member = await client.post(f"/team/{ghost}/members", data={"csrf_token": csrf, "user_id": user_id, "role": "admin"})
    key = await client.post(f"/team/{ghost}/api-keys", data={"csrf_token": csrf, "name": "k", "role": "admin"})
    dataset = await client.post("/datasets/new", data={"csrf_token": csrf, "workspace": ghost, "name": _name(), "labels": "a, b"})
    api = await client.post(f"/api/v1/workspaces/{ghost}/datasets", headers={"X-CSRF-Token": csrf},
                            json={"name": _name(), "fields": [{"name": "text"}],
                                  "questions": [{"name": "s", "type": "label", "labels": ["a", "b"]}]})
    assert (member.status_code, key.status_code, dataset.status_code) == (404, 404, 404)
    assert ghost not in (await web_app.deps.users.get(user_id)).memberships
    # the API's create (the owner, the service token) makes the workspace it names exist: listed, never a phantom
    assert api.status_code == 201 and await web_app.deps.workspaces.exists(ghost)


async def test_a_field_fastapi_refuses_is_shown_on_a_page_naming_it(web_app, owner_client) -> None:  # type: ignore[no-untyped-def]
    client, csrf = owner_client
    answer = await client.post("/datasets/new", data={"csrf_token": csrf, "workspace": "default", "name": _name(), "min_submitted": "abc"})
    assert answer.status_code == 422 and answer.headers["content-type"].startswith("text/html")
    assert "min_submitted" in answer.text and "<html" in answer.text  # was FastAPI's bare JSON
    toast = await client.post("/datasets/new", headers={**HX, "X-CSRF-Token": csrf},
                              data={"workspace": "default", "name": _name(), "min_submitted": "21"})
    assert toast.status_code == 422 and "min_submitted" in toast.headers["HX-Trigger"]

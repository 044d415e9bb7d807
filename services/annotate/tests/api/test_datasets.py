from __future__ import annotations

from annotate_testing import BASE, DATASET, Annotate


async def test_crud(annotate: Annotate) -> None:
    created = await annotate.dataset(guidelines="# Rules\n<script>alert(1)</script>")
    assert created["workspace"] == "default" and created["min_submitted"] == 1
    url = f"{BASE}/default/datasets/reviews"
    assert (await annotate.owner.post(f"{BASE}/default/datasets", json=DATASET)).status_code == 409
    detail = (await annotate.owner.get(url)).json()
    assert "<h1>Rules</h1>" in detail["guidelines_html"] and "<script>" not in detail["guidelines_html"]
    assert detail["progress"] == {"records": 0, "completed": 0}
    await annotate.records(created, ["one", "two"])
    listed = (await annotate.owner.get(f"{BASE}/default/datasets")).json()
    assert [(d["name"], d["progress"]["records"]) for d in listed] == [("reviews", 2)]
    patched = await annotate.owner.patch(url, json={"min_submitted": 2, "trainer": {"refresh_every": 4}})
    assert patched.status_code == 200 and patched.json()["trainer"]["refresh_every"] == 4
    bad = await annotate.owner.patch(url, json={"min_submitted": 0})
    assert bad.status_code == 422 and bad.json()["field"] == "min_submitted"
    document = await annotate.deps.mongo[annotate.deps.settings.mongo_db]["datasets"].find_one({"name": "reviews"})
    assert document is not None and document["min_submitted"] == 2, "stored in the shared datasets collection"
    assert (await annotate.owner.delete(url)).status_code == 204
    assert (await annotate.owner.get(url)).status_code == 404


async def test_validation_names_the_field(annotate: Annotate) -> None:
    answer = await annotate.owner.post(f"{BASE}/default/datasets", json={**DATASET, "name": "Not Valid"})
    assert answer.status_code == 422 and answer.json()["field"] == "name"


async def test_annotators_read_but_do_not_write(annotate: Annotate) -> None:
    await annotate.dataset()
    annotator = await annotate.member("ann")
    assert (await annotator.get(f"{BASE}/default/datasets/reviews")).status_code == 200
    assert (await annotator.patch(f"{BASE}/default/datasets/reviews", json={"guidelines": "x"})).status_code == 403
    assert (await annotator.post(f"{BASE}/default/datasets", json={**DATASET, "name": "other"})).status_code == 403


async def test_training_events_listed(annotate: Annotate) -> None:
    from claystream_annotate.consumers.handlers import on_model_event
    from claystream_common.events import TrainingStarted, new_event

    await annotate.dataset()
    event = new_event("training.started", TrainingStarted(run_id="r1", kind="refresh", label_count=8), dataset="reviews", workspace="default")
    await on_model_event(event, model_events=annotate.deps.model_events, datasets=annotate.deps.datasets)
    answer = (await annotate.owner.get(f"{BASE}/default/datasets/reviews/training")).json()
    assert [(e["type"], e["data"]["run_id"]) for e in answer] == [("training.started", "r1")]

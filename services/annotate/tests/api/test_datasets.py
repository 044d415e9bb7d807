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


async def test_a_question_keeps_what_its_stored_answers_were_given_to(annotate: Annotate) -> None:
    """Changing a rating into a ranking under stored answers left the metrics page failing (500) and the answers
    impossible to discard; a dropped label or a lower rating_max left answers outside the question."""
    questions = [{"name": "sentiment", "type": "label", "labels": ["pos", "neg"]}, {"name": "stars", "type": "rating", "rating_max": 5},
                 {"name": "entities", "type": "span", "labels": ["PER", "LOC"], "field": "text"}]
    await annotate.dataset(name="kept", fields=[{"name": "text"}, {"name": "title", "required": False}], questions=questions)
    url = f"{BASE}/default/datasets/kept"

    def changed(index: int, **update: object) -> dict[str, object]:
        return {"questions": [q | update if i == index else q for i, q in enumerate(questions)]}

    refused = {
        "questions.1.type": changed(1, type="ranking", labels=["x", "y"], rating_max=None),
        "questions.2.field": changed(2, field="title"),
        "questions.0.labels": changed(0, labels=["pos", "mixed"]),
        "questions.1.rating_max": changed(1, rating_max=3),
    }
    for field, body in refused.items():
        answer = await annotate.owner.patch(url, json=body)
        assert answer.status_code == 422 and field in answer.text, (field, answer.text)
    grown = await annotate.owner.patch(url, json=changed(0, labels=["pos", "neg", "mixed"], title="Tone"))
    assert grown.status_code == 200 and grown.json()["questions"][0]["labels"] == ["pos", "neg", "mixed"]
    added = await annotate.owner.patch(url, json={"questions": [*grown.json()["questions"], {"name": "order", "type": "ranking",
                                                                                              "labels": ["a", "b"]}]})
    assert added.status_code == 200 and [q["name"] for q in added.json()["questions"]][-1] == "order"
    assert (await annotate.owner.get(url)).json()["questions"][1]["type"] == "rating"


async def test_settings_that_do_not_fit_are_refused_not_dropped(annotate: Annotate) -> None:
    url = f"{BASE}/default/datasets"
    for body, field in (
        ({**DATASET, "name": "typo", "metadata_propertes": []}, "metadata_propertes"),
        ({**DATASET, "name": "typo", "min_submited": 2}, "min_submited"),
        ({**DATASET, "name": "typo", "trainer": {"question": "sentimnt"}}, "trainer.question"),
        ({**DATASET, "name": "typo", "trainer": {"text_field": "txt"}}, "trainer.text_field"),
        ({**DATASET, "name": "typo", "metadata_properties": [{"name": "genre", "type": "terms", "values": []}]},
         "metadata_properties.0.values"),  # no term allowed: every value refused
        ({**DATASET, "name": "typo", "questions": [{"name": "q", "type": "label", "labels": [f"l{i}" for i in range(501)]}]},
         "questions.0.labels"),
    ):
        answer = await annotate.owner.post(url, json=body)
        assert answer.status_code == 422 and field in answer.text, (field, answer.text)
    assert (await annotate.owner.get(f"{url}/typo")).status_code == 404
    await annotate.dataset(name="fits", trainer={"question": "sentiment", "text_field": "text"})
    patched = await annotate.owner.patch(f"{url}/fits", json={"guidlines": "x"})
    assert patched.status_code == 422 and "guidlines" in patched.text


async def test_two_admins_editing_one_dataset_lose_neither_change(annotate: Annotate) -> None:
    """Each replica served the update's read from its 2 s cache and wrote the whole document back: an admin adding a
    label on one replica and another changing the guidelines on the other a moment later lost the label (and with
    it the rule that labels are never dropped)."""
    from claystream_annotate.adapters.mongo_datasets import MongoDatasetStore
    from claystream_annotate.services.datasets import update_dataset
    from claystream_annotate.services.principals import Principal, Role
    from claystream_common.mongo import mongo_database

    await annotate.dataset()
    one = annotate.deps.datasets
    other = MongoDatasetStore(mongo_database(annotate.deps.mongo, annotate.deps.settings))  # a second replica
    admin = Principal(user_id="root", username="root", role=Role.OWNER, workspaces=None)
    for store in (one, other):
        assert await store.get("default", "reviews") is not None  # both caches warm
    label = [{"name": "sentiment", "type": "label", "labels": ["pos", "neg", "mixed"]}]
    await update_dataset({"questions": label}, actor=admin, workspace="default", name="reviews", datasets=one)
    await update_dataset({"guidelines": "new"}, actor=admin, workspace="default", name="reviews", datasets=other)
    stored = (await annotate.owner.get(f"{BASE}/default/datasets/reviews")).json()
    assert stored["guidelines"] == "new" and stored["questions"][0]["labels"] == ["pos", "neg", "mixed"], stored
    # a write based on a read another edit overtook is refused, not applied over it
    stale = await other.get("default", "reviews", fresh=True)
    await update_dataset({"guidelines": "newer"}, actor=admin, workspace="default", name="reviews", datasets=one)
    assert stale is not None and not await other.replace({**stale, "guidelines": "stale"}, expected_revision=stale.get("revision"))
    assert (await annotate.owner.get(f"{BASE}/default/datasets/reviews")).json()["guidelines"] == "newer"

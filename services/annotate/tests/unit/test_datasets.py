from __future__ import annotations

import pytest
from claystream_common.ports import RecordingPublisher
from claystream_annotate.services.datasets import (
    create_dataset,
    dataset_progress,
    delete_dataset,
    get_dataset,
    list_datasets,
    render_guidelines,
    update_dataset,
)
from claystream_annotate.services.errors import Conflict, Forbidden, Invalid, NotFound

from conftest import World, admin, annotator

BODY = {"name": "reviews", "fields": [{"name": "text"}], "questions": [{"name": "s", "type": "label", "labels": ["a", "b"]}]}


async def test_crud_and_visibility(world: World) -> None:
    spec = await create_dataset(dict(BODY), actor=admin(), workspace="ws", datasets=world.datasets, counters=world.counters, queue=world.queue)
    with pytest.raises(Conflict):
        await create_dataset(dict(BODY), actor=admin(), workspace="ws", datasets=world.datasets, counters=world.counters, queue=world.queue)
    with pytest.raises(Forbidden):
        await create_dataset(dict(BODY, name="x"), actor=annotator(), workspace="ws", datasets=world.datasets, counters=world.counters, queue=world.queue)
    assert (await get_dataset(actor=annotator(), workspace="ws", name="reviews", datasets=world.datasets)).id == spec.id
    with pytest.raises(NotFound):
        await get_dataset(actor=annotator(workspaces=("other",)), workspace="ws", name="reviews", datasets=world.datasets)
    assert await list_datasets(actor=annotator(workspaces=("other",)), workspace=None, datasets=world.datasets) == []
    updated = await update_dataset({"min_submitted": 2, "guidelines": "be kind"}, actor=admin(), workspace="ws", name="reviews", datasets=world.datasets)
    assert updated.min_submitted == 2 and updated.id == spec.id
    with pytest.raises(Invalid) as caught:
        await update_dataset({"name": "renamed"}, actor=admin(), workspace="ws", name="reviews", datasets=world.datasets)
    assert caught.value.field == "name"
    with pytest.raises(Invalid) as caught:
        await update_dataset({"min_submitted": 0}, actor=admin(), workspace="ws", name="reviews", datasets=world.datasets)
    assert caught.value.field == "min_submitted"
    await world.counters.incr(spec.id, "records", 5)
    assert (await dataset_progress([updated], counters=world.counters))[spec.id] == {"records": 5, "completed": 0}
    world.records.add("r1", spec.id)
    publisher = RecordingPublisher()
    await delete_dataset(actor=admin(), workspace="ws", name="reviews", counters=world.counters, datasets=world.datasets,
                         publisher=publisher, **world.ports())
    assert not world.records.documents and not world.datasets.documents
    [event] = publisher.of_type("dataset.deleted")
    assert (event.workspace, event.dataset, event.data.dataset_id) == ("ws", "reviews", spec.id)


async def test_a_deletion_that_cannot_be_announced_deletes_nothing(world: World) -> None:
    spec = await create_dataset(dict(BODY), actor=admin(), workspace="ws", datasets=world.datasets, counters=world.counters, queue=world.queue)
    world.records.add("r1", spec.id)
    publisher = RecordingPublisher()
    publisher.fail_with = ConnectionError("broker down")
    with pytest.raises(ConnectionError):
        await delete_dataset(actor=admin(), workspace="ws", name="reviews", counters=world.counters,
                             datasets=world.datasets, publisher=publisher, **world.ports())
    assert world.records.documents and world.datasets.documents


async def test_invalid_body_names_the_field(world: World) -> None:
    with pytest.raises(Invalid) as caught:
        await create_dataset({**BODY, "questions": [{"name": "s", "type": "label", "labels": ["only"]}]}, actor=admin(), workspace="ws", datasets=world.datasets, counters=world.counters, queue=world.queue)
    assert caught.value.field.startswith("questions")


def test_guidelines_render_markdown_but_no_active_content() -> None:
    html = render_guidelines("# Title\n\n**bold** <script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))")
    assert "<h1>Title</h1>" in html and "<strong>bold</strong>" in html
    assert "<script" not in html and "<img" not in html, "raw HTML stays text"
    assert 'href="javascript:' not in html


async def test_vector_fields_can_be_added_but_never_resized_and_names_are_checked(world: World) -> None:
    body = dict(BODY, vectors=[{"name": "emb", "dimensions": 3}])
    await create_dataset(body, actor=admin(), workspace="ws", datasets=world.datasets, counters=world.counters, queue=world.queue)
    grown = await update_dataset({"vectors": [{"name": "emb", "dimensions": 3}, {"name": "img", "dimensions": 8}]},
                                 actor=admin(), workspace="ws", name="reviews", datasets=world.datasets)
    assert [(v.name, v.dimensions) for v in grown.vectors] == [("emb", 3), ("img", 8)]
    with pytest.raises(Invalid) as caught:
        await update_dataset({"vectors": [{"name": "emb", "dimensions": 4}]}, actor=admin(), workspace="ws", name="reviews",
                             datasets=world.datasets)
    assert caught.value.field == "vectors.0.dimensions" and "cannot change (emb has 3)" in caught.value.reason
    for bad, field in [([{"name": "trainer_embeddings", "dimensions": 3}], "vectors.0.name"),
                       ([{"name": "e", "dimensions": 0}], "vectors.0.dimensions"),
                       ([{"name": "e", "dimensions": 2}, {"name": "e", "dimensions": 2}], "vectors")]:
        with pytest.raises(Invalid) as caught:
            await create_dataset(dict(BODY, name="other", vectors=bad), actor=admin(), workspace="ws", datasets=world.datasets, counters=world.counters, queue=world.queue)
        assert caught.value.field == field, (bad, caught.value)


async def test_a_metadata_property_keeps_its_type_and_its_terms(world: World) -> None:
    """Records hold values of the declared type: a property turned from terms into integer (or a term dropped) left
    stored values outside it, which typed exports and range filters then misread."""
    body = dict(BODY, metadata_properties=[{"name": "genre", "type": "terms", "values": ["drama", "comedy"]},
                                           {"name": "source", "type": "terms"}, {"name": "year", "type": "integer"}])
    await create_dataset(body, actor=admin(), workspace="ws", datasets=world.datasets, counters=world.counters, queue=world.queue)

    async def update(properties: list[dict[str, object]]) -> None:
        await update_dataset({"metadata_properties": properties}, actor=admin(), workspace="ws", name="reviews",
                             datasets=world.datasets)

    genre, source, year = body["metadata_properties"]
    for properties, field, reason in [
        ([genre, source, {"name": "year", "type": "float"}], "metadata_properties.2.type", "cannot change (records hold year as integer values)"),
        ([{**genre, "values": ["drama"]}, source, year], "metadata_properties.0.values", "cannot drop ['comedy']"),
        ([genre, {**source, "values": ["imdb"]}, year], "metadata_properties.1.values", "allowed any term"),
    ]:
        with pytest.raises(Invalid) as caught:
            await update(properties)
        assert caught.value.field == field and reason in caught.value.reason, caught.value
    await update([{**genre, "values": ["drama", "comedy", "horror"]}, {**source, "values": None}, year,
                  {"name": "score", "type": "float"}])
    stored = await get_dataset(actor=admin(), workspace="ws", name="reviews", datasets=world.datasets)
    assert [(p.name, p.type, p.values) for p in stored.metadata_properties] == [
        ("genre", "terms", ["drama", "comedy", "horror"]), ("source", "terms", None), ("year", "integer", None),
        ("score", "float", None)]


async def test_a_ranking_keeps_its_options_while_a_label_question_may_grow(world: World) -> None:
    """An option added to a ranking made every stored answer incomplete (re-saving one was refused: "rank every
    option")."""
    body = dict(BODY, questions=[{"name": "s", "type": "label", "labels": ["a", "b"]},
                                 {"name": "order", "type": "ranking", "labels": ["x", "y", "z"]}])
    await create_dataset(body, actor=admin(), workspace="ws", datasets=world.datasets, counters=world.counters, queue=world.queue)
    grown = [{"name": "s", "type": "label", "labels": ["a", "b", "c"]}, {"name": "order", "type": "ranking", "labels": ["x", "y", "z", "w"]}]
    with pytest.raises(Invalid) as caught:
        await update_dataset({"questions": grown}, actor=admin(), workspace="ws", name="reviews", datasets=world.datasets)
    assert caught.value.field == "questions.1.labels" and "cannot add ['w']" in caught.value.reason
    updated = await update_dataset({"questions": [grown[0], body["questions"][1]]}, actor=admin(), workspace="ws",
                                   name="reviews", datasets=world.datasets)
    assert [q.labels for q in updated.questions] == [["a", "b", "c"], ["x", "y", "z"]]


async def test_a_label_stored_before_the_blank_label_rule_does_not_block_later_updates(world: World) -> None:
    """The rule judged every label on every update: a dataset holding "Sci-Fi " (which can be neither dropped nor
    renamed) could never be changed again."""
    spec = await create_dataset(dict(BODY), actor=admin(), workspace="ws", datasets=world.datasets, counters=world.counters, queue=world.queue)
    world.datasets.documents[spec.id]["questions"][0]["labels"] = ["a", "Sci-Fi "]  # as written before the rule
    updated = await update_dataset({"guidelines": "be kind"}, actor=admin(), workspace="ws", name="reviews", datasets=world.datasets)
    assert updated.guidelines == "be kind"
    with pytest.raises(Invalid) as caught:  # a new label is still judged
        await update_dataset({"questions": [{"name": "s", "type": "label", "labels": ["a", "Sci-Fi ", " b"]}]},
                             actor=admin(), workspace="ws", name="reviews", datasets=world.datasets)
    assert caught.value.field == "questions.0.labels" and "' b'" in caught.value.reason


async def test_an_update_overtaken_by_another_edit_is_a_conflict_not_a_silent_overwrite(world: World) -> None:
    from fakes import FakeDatasets

    class Overtaken(FakeDatasets):
        """Another admin's edit lands between this update's read and its write."""

        async def replace(self, document, *, expected_revision):  # type: ignore[no-untyped-def]
            stored = self.documents[document["_id"]]
            self.documents[document["_id"]] = {**stored, "guidelines": "theirs", "revision": (stored.get("revision") or 0) + 1}
            return await super().replace(document, expected_revision=expected_revision)

    datasets = Overtaken()
    await create_dataset(dict(BODY), actor=admin(), workspace="ws", datasets=datasets, counters=world.counters, queue=world.queue)
    with pytest.raises(Conflict, match="changed by someone else"):
        await update_dataset({"min_submitted": 2}, actor=admin(), workspace="ws", name="reviews", datasets=datasets)
    assert next(iter(datasets.documents.values()))["guidelines"] == "theirs"

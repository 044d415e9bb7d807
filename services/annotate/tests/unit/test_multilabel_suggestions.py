"""The trainer's multi-label and rating suggestions: stored in their normal form, and pre-filled in the annotation form."""

from __future__ import annotations

from claystream_annotate.consumers.handlers import on_records_ingested, on_suggestions_created
from claystream_annotate.web.views import question_views
from claystream_common.datasets import DatasetSpec
from claystream_common.events import RecordIngested, SuggestionCreated, new_event

from conftest import World

SPEC = DatasetSpec.model_validate({
    "id": "ds1", "workspace": "ws", "name": "movies", "fields": [{"name": "text"}],
    "questions": [{"name": "genres", "type": "multi_label", "labels": ["Action", "Comedy", "Drama"]},
                  {"name": "stars", "type": "rating", "rating_max": 5}],
})


async def test_a_label_list_and_a_rating_are_stored_and_pre_selected_with_their_scores(world: World) -> None:
    await world.datasets.insert({"_id": "ds1", **SPEC.model_dump(mode="json", exclude={"id"})})
    record = RecordIngested(record_id="m1", external_id="m1", fields={"text": "a heist goes wrong, hilariously"})
    await on_records_ingested([new_event("record.ingested", record, dataset="movies", workspace="ws")],
                              records=world.records, datasets=world.datasets, queue=world.queue, counters=world.counters)
    genres = SuggestionCreated(record_id="m1", question="genres", label=["Comedy", "Action"], score=0.7,  # most probable first
                               scores={"Action": 0.8, "Comedy": 0.6, "Drama": 0.1}, model_version="v2", priority=0.4)
    stars = SuggestionCreated(record_id="m1", question="stars", label=4, score=0.5,
                              scores={str(i): 0.1 for i in range(1, 6)} | {"4": 0.6}, model_version="v2")
    await on_suggestions_created([new_event("suggestion.created", s, dataset="movies", workspace="ws") for s in (genres, stars)],
                                 records=world.records, datasets=world.datasets, queue=world.queue)
    stored = world.records.documents["m1"]
    # stored in label order, as an answer is: the pre-ticked answer submitted unchanged equals the suggestion
    assert stored["suggestions"]["genres"]["value"] == ["Action", "Comedy"] and stored["suggestions"]["stars"]["value"] == 4
    views = {v.name: v for v in question_views(SPEC, stored, None)}
    options = {o.value: o for o in views["genres"].options}
    assert [v for v, o in options.items() if o.checked] == ["Action", "Comedy"]
    assert (options["Action"].score, options["Drama"].score, options["Drama"].suggested) == (0.8, 0.1, False)
    assert [o.value for o in views["stars"].options if o.checked] == [4]
    mine = {v.name: v for v in question_views(SPEC, stored, {"genres": ["Drama"]})}  # the user's answer wins
    assert [o.value for o in mine["genres"].options if o.checked] == ["Drama"]

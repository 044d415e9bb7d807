"""dataset.records (log with responses, iterate, filters, update, delete, exports) and Client.load,
against the real ingest and annotate services."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from claystream import (
    Client,
    Filter,
    FloatMetadataProperty,
    LabelQuestion,
    Query,
    Settings,
    TermsMetadataProperty,
    TextField,
    ValidationFailed,
)


def make_dataset(client: Client) -> Any:
    settings = Settings(fields=[TextField("text")], questions=[LabelQuestion("sentiment", ["pos", "neg"])],
                        metadata=[TermsMetadataProperty("genre"), FloatMetadataProperty("year")])
    return client.datasets.create(f"r{uuid.uuid4().hex[:8]}", settings=settings)


def rows(count: int, annotator: str | None = None, answered_every: int = 3) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        row: dict[str, Any] = {
            "external_id": f"e{i}", "fields": {"text": f"review {i}"},
            "metadata": {"genre": "drama" if i % 2 else "comedy", "year": 1990 + i % 30},
            "suggestions": [{"question": "sentiment", "value": "pos" if i % 4 else "neg", "score": (i % 10) / 10, "agent": "t"}],
        }
        if annotator and i % answered_every == 0:
            row["responses"] = [{"question": "sentiment", "value": "neg" if i % 2 else "pos", "user": annotator}]
        out.append(row)
    return out


@pytest.fixture
def annotator(make_annotator: Callable[[], str]) -> str:
    return make_annotator()


def test_log_with_responses_then_iterate_filter_and_load(client: Client, annotator: str, poll: Callable[..., Any]) -> None:
    dataset = make_dataset(client)
    result = dataset.records.log(rows(450, annotator))  # more than one page (records_page_max is 200)
    assert result.accepted == 450 and len(result.ids) == 450
    assert dataset.records.wait_stored(450) == 450
    submitted = Filter(("response.status", "==", "submitted"))
    answered = poll(lambda: (n := sum(1 for _ in dataset.records(filter=submitted))) == 150 and n, what="150 answered records")
    assert answered == 150
    # the imported responses went through annotate's outbox: the relay applied their effects (completion)
    poll(lambda: sum(1 for _ in dataset.records(filter=Filter(("status", "==", "completed")))) == 150, what="completions")
    everything = list(dataset.records())
    assert len(everything) == 450 and len({r["id"] for r in everything}) == 450
    first = next(r for r in everything if r["external_id"] == "e3")
    assert first["responses"][0]["values"] == {"sentiment": "neg"} and first["suggestions"][0]["value"] == "pos"
    bare = next(iter(dataset.records(with_suggestions=False, with_responses=False)))
    assert "suggestions" not in bare and "responses" not in bare
    # filters: metadata terms and ranges, suggestion label and score, text, sort
    assert sum(1 for _ in dataset.records(filter=Filter(("metadata.genre", "==", "drama")))) == 225
    assert sum(1 for _ in dataset.records(filter=Filter(("metadata.year", ">=", 2015)))) == 75
    assert sum(1 for _ in dataset.records(filter=Filter(("suggestion.sentiment.value", "==", "neg")))) == 113
    high = list(dataset.records(filter=Filter(("suggestion.sentiment.score", ">=", 0.9)), sort=("suggestion.score", "desc")))
    assert len(high) == 45 and all(r["suggestions"][0]["score"] == 0.9 for r in high)
    assert [r["external_id"] for r in dataset.records(query=Query(query="review 123"))] == ["e123"]
    assert sum(1 for _ in dataset.records(filter=Filter(("response.status", "==", "pending")))) == 300
    # Client.load: pages from the server's limit; response_status means anyone's answers for an admin key
    loaded = client.load(dataset.name)
    assert loaded.num_rows == 450
    only_submitted = client.load(dataset.name, response_status="submitted")
    assert only_submitted.num_rows == 150 and all(len(v) == 1 for v in only_submitted["sentiment.responses"])
    training = client.prepare_for_training(only_submitted, question="sentiment")
    assert training.num_rows == 150 and set(training["label"]) == {"pos", "neg"}
    frame = dataset.records(filter=submitted).to_pandas()
    assert len(frame) == 150 and "sentiment.responses" in frame.columns and "metadata.genre" in frame.columns
    hf = dataset.records(limit=10).to_datasets()
    assert hf.num_rows == 10 and hf.features["metadata.year"].dtype == "float64"


def test_bad_responses_are_refused_with_the_index_and_nothing_is_stored(client: Client, annotator: str) -> None:
    dataset = make_dataset(client)
    bad_user = rows(5)
    bad_user[3]["responses"] = [{"question": "sentiment", "value": "pos", "user": "nobody-here"}]
    with pytest.raises(ValidationFailed) as caught:
        dataset.records.log(bad_user)
    assert caught.value.errors[0]["index"] == 3 and caught.value.errors[0]["field"] == "responses.user"
    bad_value = rows(5)
    bad_value[4]["responses"] = [{"question": "sentiment", "value": "maybe", "user": annotator}]
    with pytest.raises(ValidationFailed) as caught:
        dataset.records.log(bad_value)
    assert caught.value.errors == [{"index": 4, "field": "responses.values.sentiment", "reason": "must be one of ['pos', 'neg'], not 'maybe'"}]
    late = rows(1500)  # past the first batch: still checked before anything is sent
    late[1400]["responses"] = [{"question": "sentiment", "value": "pos", "user": "nobody-here"}]
    with pytest.raises(ValidationFailed) as caught:
        dataset.records.log(late, batch_size=500)
    assert [(e["index"], e["field"]) for e in caught.value.errors] == [(1400, "responses.user")]
    assert client.datasets.get(dataset.name).progress["records"] == 0  # nothing was sent


def test_update_metadata_and_suggestions_then_delete(client: Client) -> None:
    dataset = make_dataset(client)
    dataset.records.log(rows(30))
    dataset.records.wait_stored(30)
    ids = {r["external_id"]: r["id"] for r in dataset.records()}
    changed = dataset.records.update([
        {"id": ids["e1"], "metadata": {"genre": "horror", "year": 2001.0}},
        {"id": ids["e2"], "suggestions": [{"question": "sentiment", "value": "neg", "score": 0.99, "agent": "me"}]},
    ])
    assert changed == 2
    one = next(r for r in dataset.records() if r["external_id"] == "e1")
    assert one["metadata"] == {"genre": "horror", "year": 2001.0}
    two = next(r for r in dataset.records() if r["external_id"] == "e2")
    assert two["suggestions"] == [{"question": "sentiment", "value": "neg", "score": 0.99, "agent": "me", "model_version": None}]
    with pytest.raises(ValidationFailed) as caught:
        dataset.records.update([{"id": ids["e3"], "metadata": {"genre": "x"}},
                                {"id": ids["e4"], "suggestions": [{"question": "sentiment", "value": "maybe"}]}])
    assert [(e["index"], e["field"]) for e in caught.value.errors] == [(1, "suggestions.sentiment")]
    assert next(r for r in dataset.records() if r["external_id"] == "e3")["metadata"]["genre"] == "drama"  # unchanged
    assert dataset.records.delete([ids["e1"], ids["e2"]]) == 2
    assert dataset.records.delete(filter=Filter(("metadata.genre", "==", "comedy"))) == 14  # e0, e4, ... (e2 gone)
    left = list(dataset.records())
    assert len(left) == 14 and all(r["metadata"]["genre"] == "drama" for r in left)
    assert client.datasets.get(dataset.name).progress["records"] == 14


def test_to_disk_from_disk_and_local_sources(client: Client, annotator: str, tmp_path: Path, poll: Callable[..., Any]) -> None:
    import pandas as pd
    from datasets import Dataset as HFDataset

    dataset = make_dataset(client)
    dataset.records.log(rows(12, annotator, answered_every=4))
    dataset.records.wait_stored(12)
    poll(lambda: sum(1 for _ in dataset.records(filter=Filter(("response.status", "==", "submitted")))) == 3, what="answers")
    dataset.to_disk(str(tmp_path / "saved"))
    copy = client.datasets.from_disk(str(tmp_path / "saved"), name=f"{dataset.name}-copy")
    copy.records.wait_stored(12)
    restored = poll(lambda: (found := list(copy.records(filter=Filter(("response.status", "==", "submitted"))))) and len(found) == 3 and found,
                    what="restored answers")
    assert sorted(r["external_id"] for r in restored) == ["e0", "e4", "e8"]
    assert all(r["responses"][0]["values"] for r in restored)
    target = make_dataset(client)
    HFDataset.from_dict({"id": ["h1", "h2"], "text": ["a", "b"]}).save_to_disk(str(tmp_path / "hf"))
    pd.DataFrame({"id": ["p1"], "text": ["c"]}).to_parquet(tmp_path / "p.parquet")
    (tmp_path / "c.csv").write_text("id,text\nc1,d\n")
    (tmp_path / "j.jsonl").write_text('{"id": "j1", "text": "e"}\n')
    for source in ("hf", "p.parquet", "c.csv", "j.jsonl"):
        target.records.log_from(str(tmp_path / source))
    assert target.records.wait_stored(5) == 5
    assert sorted(r["external_id"] for r in target.records()) == ["c1", "h1", "h2", "j1", "p1"]


def test_record_objects_argilla_style(client: Client, annotator: str, poll: Callable[..., Any]) -> None:
    from claystream import Record, Response, Suggestion

    dataset = make_dataset(client)
    dataset.records.log([
        Record(fields={"text": "great"}, metadata={"genre": "drama"}, id="a",
               suggestions=[Suggestion("sentiment", "pos", score=0.8, agent="m")],
               responses=[Response("sentiment", "pos", user=annotator)]),
        Record(fields={"text": "dull"}, id="b"),
    ])
    dataset.records.wait_stored(2)
    answered = poll(lambda: list(dataset.records(filter=Filter(("response.status", "==", "submitted")))), what="the answer")
    assert [r["external_id"] for r in answered] == ["a"]
    assert answered[0]["suggestions"][0]["score"] == 0.8 and answered[0]["metadata"] == {"genre": "drama"}

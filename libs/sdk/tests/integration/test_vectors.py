"""Vectors through the SDK: VectorField, vectors on logged records, with_vectors, records.similar.

The storage and the similarity API are annotate's vector work (issue 12 item 3); these tests skip
with that reason when the running annotate does not know vector fields.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from claystream import Client, Filter, LabelQuestion, Settings, TextField, ValidationFailed, VectorField


def vector_dataset(client: Client) -> Any:
    settings = Settings(fields=[TextField("text")], questions=[LabelQuestion("sentiment", ["pos", "neg"])],
                        vectors=[VectorField("embedding", 4)])
    dataset = client.datasets.create(f"v{uuid.uuid4().hex[:8]}", settings=settings)
    if not dataset.settings.vectors:
        pytest.skip("annotate does not store vector fields yet (issue 12 item 3, branch i12-server)")
    return dataset


UNIT = [[1.0, 0.0, 0.0, 0.0], [0.9, 0.1, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]]


def test_vectors_are_stored_returned_and_searched(client: Client) -> None:
    dataset = vector_dataset(client)
    dataset.records.log([{"external_id": str(i), "fields": {"text": f"t{i}"}, "vectors": {"embedding": v}}
                         for i, v in enumerate(UNIT)])
    dataset.records.wait_stored(len(UNIT))
    with_vectors = {r["external_id"]: r["vectors"]["embedding"] for r in dataset.records(with_vectors=True)}
    assert with_vectors["2"] == pytest.approx(UNIT[2])
    assert all("vectors" not in r for r in dataset.records())
    first = next(r["id"] for r in dataset.records() if r["external_id"] == "0")
    similar = dataset.records.similar(vector_name="embedding", record_id=first, k=2)
    assert [r["external_id"] for r in similar][0] == "1" and "0" not in [r["external_id"] for r in similar]
    assert similar[0]["score"] == pytest.approx(0.9 / (0.81 + 0.01) ** 0.5, abs=1e-4)
    by_vector = dataset.records.similar(vector_name="embedding", vector=[0.0, 0.0, 0.1, 1.0], k=1)
    assert [r["external_id"] for r in by_vector] == ["4"]


def test_similar_with_a_filter_and_after_deleting(client: Client, poll: Callable[..., Any], make_annotator: Callable[[], str]) -> None:
    dataset = vector_dataset(client)
    dataset.records.log([{"external_id": str(i), "fields": {"text": f"t{i}"}, "vectors": {"embedding": v}}
                         for i, v in enumerate(UNIT)])
    dataset.records.wait_stored(len(UNIT))
    ids = {r["external_id"]: r["id"] for r in dataset.records()}
    assert [r["external_id"] for r in dataset.records.similar(vector_name="embedding", vector=UNIT[0], k=1)] == ["0"]
    dataset.records.delete([ids["0"]])
    after = dataset.records.similar(vector_name="embedding", vector=UNIT[0], k=1)
    assert [r["external_id"] for r in after] == ["1"]
    only_text = dataset.records.similar(vector_name="embedding", vector=UNIT[0], k=3, query="t3")
    assert [r["external_id"] for r in only_text] == ["3"]
    annotator = make_annotator()
    client.annotate_call("POST", f"{dataset.path}/responses:import",
                         body={"items": [{"record_id": ids["4"], "user": annotator, "values": {"sentiment": "pos"}}]})
    answered = Filter(("response.status", "==", "submitted"))  # anyone's answers, for an admin key
    found = poll(lambda: dataset.records.similar(vector_name="embedding", vector=UNIT[1], k=3, filter=answered),
                 what="the answer applied")
    assert [r["external_id"] for r in found] == ["4"]


def test_a_wrong_dimension_names_the_record_and_the_vector(client: Client) -> None:
    dataset = vector_dataset(client)
    with pytest.raises(ValidationFailed) as caught:
        dataset.records.log([{"fields": {"text": "a"}, "vectors": {"embedding": [1.0, 0.0, 0.0, 0.0]}},
                             {"fields": {"text": "b"}, "vectors": {"embedding": [1.0, 0.0]}}])
    assert [(e["index"], e["field"]) for e in caught.value.errors] == [(1, "vectors.embedding")]

"""The vector index with fake sources: built on first use, kept in sync in place, rebuilt when another
replica wrote (generation mismatch), dropped with its dataset; the similarity use case's input rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from claystream_annotate.services.errors import Invalid
from claystream_annotate.services.similarity import SimilarQuery, find_similar
from claystream_annotate.services.vector_index import VectorIndex
from claystream_common.datasets import DatasetSpec

from conftest import World, admin

SPEC = DatasetSpec.model_validate({"id": "ds1", "workspace": "ws", "name": "reviews", "fields": [{"name": "text"}],
                                   "questions": [{"name": "s", "type": "label", "labels": ["a", "b"]}],
                                   "vectors": [{"name": "emb", "dimensions": 2}]})


class FakeStored:
    def __init__(self) -> None:
        self.rows_by_field: dict[str, list[tuple[str, list[float]]]] = {"emb": []}
        self.loads = 0

    async def rows(self, dataset_id: str, field: str) -> AsyncIterator[list[tuple[str, list[float]]]]:
        self.loads += 1
        if self.rows_by_field[field]:
            yield list(self.rows_by_field[field])


class FakeGenerations:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    async def current(self, dataset_id: str) -> int:
        return self.values.get(dataset_id, 0)

    async def bump(self, dataset_id: str) -> int:
        self.values[dataset_id] = self.values.get(dataset_id, 0) + 1
        return self.values[dataset_id]

    async def drop(self, dataset_id: str) -> None:
        self.values.pop(dataset_id, None)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_built_once_updated_in_place_and_rebuilt_when_another_replica_wrote() -> None:
    stored, generations = FakeStored(), FakeGenerations()
    stored.rows_by_field["emb"] = [("a", [1.0, 0.0]), ("b", [0.0, 1.0])]
    index = VectorIndex(stored=stored, generations=generations)
    assert len(await index.matrix(SPEC, "emb")) == 2 and stored.loads == 1
    await index.stored("ds1", [("c", {"emb": [0.9, 0.1]}), ("d", {})])  # this replica stored c: applied in place
    matrix = await index.matrix(SPEC, "emb")
    assert "c" in matrix and stored.loads == 1  # no rebuild: the generation moved by our own write only
    await generations.bump("ds1")  # another replica stored something
    stored.rows_by_field["emb"].append(("e", [0.5, 0.5]))
    await index.matrix(SPEC, "emb")  # answers from what it has, rebuilds in the background
    await settle()
    assert "e" in await index.matrix(SPEC, "emb") and stored.loads == 2
    await index.drop("ds1")
    assert generations.values == {} and len(await index.matrix(SPEC, "emb")) == 3 and stored.loads == 3  # a, b, e


async def test_warming_builds_the_declared_fields_in_the_background() -> None:
    stored = FakeStored()
    stored.rows_by_field["emb"] = [("a", [1.0, 0.0])]
    index = VectorIndex(stored=stored, generations=FakeGenerations())
    index.warm([SPEC])
    await settle()
    assert stored.loads == 1 and "a" in await index.matrix(SPEC, "emb") and stored.loads == 1
    await index.close()


async def test_unknown_field_and_the_trainer_field_only_with_a_trainer() -> None:
    index = VectorIndex(stored=FakeStored(), generations=FakeGenerations())
    assert index.fields(SPEC) == ["emb"] and index.default_field(SPEC) == "emb"
    with pytest.raises(Invalid) as caught:
        await index.matrix(SPEC, "trainer_embeddings")
    assert caught.value.field == "vector_field" and "dataset vector fields: emb" in str(caught.value)


@pytest.mark.parametrize(("query", "field", "reason"), [
    (SimilarQuery("emb"), "record_id", "exactly one of record_id or vector"),
    (SimilarQuery("emb", record_id="a", vector=[1.0, 0.0]), "record_id", "exactly one"),
    (SimilarQuery("emb", vector=[1.0, 0.0], k=0), "k", "between 1 and 200"),
    (SimilarQuery("emb", vector=[1.0, 0.0, 2.0]), "vector", "must be a list of 2 numbers for emb (got 3)"),
    (SimilarQuery("emb", vector=[1.0, float("nan")]), "vector", "finite"),
])
async def test_bad_similarity_queries_name_the_field_and_the_reason(world: World, query: Any, field: str, reason: str) -> None:
    stored = FakeStored()
    stored.rows_by_field["emb"] = [("a", [1.0, 0.0])]
    index = VectorIndex(stored=stored, generations=FakeGenerations())
    with pytest.raises(Invalid) as caught:
        await find_similar(query, actor=admin(), spec=SPEC, index=index, records=world.records, responses=world.responses)
    assert caught.value.field == field and reason in str(caught.value)


async def test_a_trainer_that_does_not_answer_is_a_503_not_a_crash() -> None:
    import httpx
    from claystream_annotate.adapters.vector_sources import HttpTrainerEmbeddings
    from claystream_annotate.services.errors import Unavailable
    from claystream_devstack.processes import free_port

    async with httpx.AsyncClient() as http:  # a port nothing listens on: the trainer is down
        trainer = HttpTrainerEmbeddings(http, trainer_url=f"http://127.0.0.1:{free_port()}", service_token="t")
        index = VectorIndex(stored=FakeStored(), generations=FakeGenerations(), trainer=trainer)
        with pytest.raises(Unavailable, match="trainer's embeddings of reviews are not available now"):
            await index.matrix(SPEC, "trainer_embeddings")

"""A fine-tuned body belongs to its dataset: model versions restart at v1 in every dataset, so two datasets'
"v1" are two bodies, each served with its own weights, and deleting one dataset leaves the other's body.
The base model is one body for all.  The real provider runs; only loading a directory is light here."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from claystream_trainer.adapters.bodies import LocalBodyProvider
from claystream_trainer.adapters.st_embedder import HashingEmbedder
from claystream_trainer.config import TrainerSettings
from claystream_trainer.domain.ports import DatasetKey, ModelEntry
from claystream_trainer.domain.serving_head import ServingHead
from claystream_trainer.services.champions import ChampionCache

from .fakes import make_ports

A = DatasetKey("acme", "reviews")
B = DatasetKey("acme", "tickets")


class DirectoryBody:
    """Stands for the body loaded from ``directory`` (a real MiniLM takes seconds to load)."""

    def __init__(self, directory: Path, body_ref: str) -> None:
        self.directory = directory
        self.key = f"dir-{body_ref}"
        self._vectors = HashingEmbedder(key=self.key)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self._vectors.embed(texts)


def light_provider(tmp_path: Path) -> LocalBodyProvider:
    settings = TrainerSettings(embedder="sentence-transformers", base_model_path=tmp_path / "base", models_dir=tmp_path)
    return LocalBodyProvider(settings, load=DirectoryBody)


def fine_tuned_v1(tmp_path: Path, dataset: DatasetKey, artifacts) -> ModelEntry:  # type: ignore[no-untyped-def]
    trained = tmp_path / "trained" / dataset.dataset
    trained.mkdir(parents=True)
    (trained / "weights.bin").write_bytes(dataset.dataset.encode())
    path, sha = artifacts.save(dataset, "v1", ServingHead(embedding_head=None), str(trained))
    return ModelEntry(version="v1", workspace=dataset.workspace, dataset=dataset.dataset, kind="finetune",
                      status="champion", label_count=10, labels=["x", "y"], question="label", text_field="text",
                      base_model="base", body_ref="v1", body_key="v1", artifact_path=path, sha256=sha)


async def test_two_datasets_fine_tuned_bodies_of_one_version_are_each_served_with_their_own_weights(tmp_path):
    bodies = light_provider(tmp_path)
    ports = dataclasses.replace(make_ports(tmp_path / "store"), bodies=bodies)
    entries = {dataset: fine_tuned_v1(tmp_path, dataset, ports.artifacts) for dataset in (A, B)}
    for entry in entries.values():
        await ports.registry.add(entry)
    champions = ChampionCache(ports, ttl_s=60)

    loaded = {dataset: await champions.get(dataset) for dataset in (A, B)}

    for dataset, entry in entries.items():
        own = Path(ports.artifacts.body_dir(entry.artifact_path))
        assert loaded[dataset].embedder.directory == own, f"{dataset} is served another dataset's v1 body"
    assert loaded[A].embedder is not loaded[B].embedder


def test_forgetting_a_dataset_keeps_the_other_datasets_body_of_the_same_version(tmp_path):
    bodies = light_provider(tmp_path)
    bodies.register(A, "v3", str(tmp_path / "a-v3"))
    bodies.register(B, "v3", str(tmp_path / "b-v3"))
    base, kept = bodies.get(A, "base"), bodies.get(B, "v3")
    assert bodies.get(A, "v3").directory == tmp_path / "a-v3" and kept.directory == tmp_path / "b-v3"
    assert bodies.get(B, None) is base and base.directory == tmp_path / "base", "one base body for every dataset"

    bodies.forget(A)  # dataset A deleted

    assert bodies.get(B, "v3") is kept
    assert bodies.get(B, "base") is base
    with pytest.raises(LookupError):
        bodies.get(A, "v3")

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from claystream_annotate.services.principals import Principal, Role
from claystream_common.datasets import DatasetSpec
from fakes import FakeCounters, FakeDatasets, FakeQuarantine, FakeQueue, FakeRecords, FakeResponses, Wake


def make_spec(min_submitted: int = 1, workspace: str = "ws") -> DatasetSpec:
    return DatasetSpec(
        id="ds1",
        workspace=workspace,
        name="reviews",
        fields=[{"name": "text"}],
        questions=[
            {"name": "sentiment", "type": "label", "labels": ["pos", "neg"]},
            {"name": "topics", "type": "multi_label", "labels": ["plot", "acting", "music"], "required": False},
            {"name": "stars", "type": "rating", "rating_max": 5, "required": False},
            {"name": "note", "type": "text", "required": False},
        ],
        metadata_properties=[{"name": "genre", "type": "terms"}, {"name": "year", "type": "integer"}],
        min_submitted=min_submitted,
    )


def annotator(user_id: str = "u1", workspaces: tuple[str, ...] = ("ws",)) -> Principal:
    return Principal(user_id=user_id, username=user_id, role=Role.ANNOTATOR, workspaces=frozenset(workspaces))


def admin(user_id: str = "a1", workspaces: tuple[str, ...] = ("ws",)) -> Principal:
    return Principal(user_id=user_id, username=user_id, role=Role.ADMIN, workspaces=frozenset(workspaces))


@dataclass
class World:
    records: FakeRecords = field(default_factory=FakeRecords)
    responses: FakeResponses = field(default_factory=FakeResponses)
    queue: FakeQueue = field(default_factory=FakeQueue)
    counters: FakeCounters = field(default_factory=FakeCounters)
    datasets: FakeDatasets = field(default_factory=FakeDatasets)
    relay: Wake = field(default_factory=Wake)
    quarantine: FakeQuarantine = field(default_factory=FakeQuarantine)

    def ports(self) -> dict[str, object]:
        return {"records": self.records, "responses": self.responses, "queue": self.queue}


@pytest.fixture
def world() -> World:
    return World()

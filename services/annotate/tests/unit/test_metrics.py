from __future__ import annotations

import math

import pytest
from claystream_annotate.services.errors import Forbidden
from claystream_annotate.services.metrics import alpha_for, dataset_metrics
from claystream_annotate.services.responses import save_response
from claystream_common.datasets import QuestionSpec
from fakes import FakeUsers

from conftest import World, admin, annotator, make_spec

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the 3 coders x 15 units example.
KRIPPENDORFF_2011 = [
    [None, None, None, None, None, 3, 4, 1, 2, 1, 1, 3, 3, None, 3],
    [1, None, 2, 1, 3, 3, 4, 3, None, None, None, None, None, None, None],
    [None, None, 2, 1, 3, 4, 4, None, 2, 1, 1, 3, 3, None, 4],
]


def units_from(matrix: list[list[int | None]]) -> dict[str, dict[str, int]]:
    units: dict[str, dict[str, int]] = {}
    for coder, row in enumerate(matrix):
        for unit, value in enumerate(row):
            if value is not None:
                units.setdefault(f"u{unit}", {})[f"c{coder}"] = value
    return units


def test_alpha_matches_the_published_example() -> None:
    nominal = QuestionSpec(name="q", type="label", labels=["1", "2", "3", "4"])
    alpha, n = alpha_for(nominal, {u: {c: str(v) for c, v in votes.items()} for u, votes in units_from(KRIPPENDORFF_2011).items()})
    assert alpha == pytest.approx(0.691, abs=0.001)
    assert n == 12  # units with at least two values


def test_alpha_edge_cases() -> None:
    question = QuestionSpec(name="q", type="label", labels=["a", "b"])
    assert alpha_for(question, {"r1": {"x": "a"}}) == (None, 0)
    assert alpha_for(question, {"r1": {"x": "a", "y": "a"}, "r2": {"x": "a", "y": "a"}}) == (1.0, 2)
    disagree, _ = alpha_for(question, {"r1": {"x": "a", "y": "b"}, "r2": {"x": "b", "y": "a"}})
    assert disagree is not None and disagree < 0
    text = QuestionSpec(name="t", type="text")
    assert alpha_for(text, {"r1": {"x": "hi", "y": "ho"}}) == (None, 1)


async def test_dataset_metrics(world: World) -> None:
    spec = make_spec()
    users = FakeUsers()
    for i in range(3):
        world.records.add(f"r{i}", spec.id)
        for user, label in (("u1", "pos"), ("u2", "pos" if i < 2 else "neg")):
            await save_response(actor=annotator(user), spec=spec, record_id=f"r{i}", status="submitted", values={"sentiment": label, "stars": 3}, **world.ports())
    await save_response(actor=annotator("u3"), spec=spec, record_id="r0", status="draft", values={}, **world.ports())
    metrics = await dataset_metrics(actor=admin(), spec=spec, responses=world.responses, users=users)
    counts = {a["user_id"]: (a["submitted"], a["draft"]) for a in metrics["annotators"]}
    assert counts == {"u1": (3, 0), "u2": (3, 0), "u3": (0, 1)}
    assert metrics["distribution"]["sentiment"] == {"pos": 5, "neg": 1}
    agreement = metrics["agreement"]["sentiment"]
    assert agreement["records"] == 3 and agreement["alpha"] is not None and not math.isnan(agreement["alpha"])
    with pytest.raises(Forbidden):
        await dataset_metrics(actor=annotator(), spec=spec, responses=world.responses, users=users)

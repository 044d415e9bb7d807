"""Issue 17 (low): bulk saves are optimistic like single saves: a save racing a bulk is never
overwritten blindly, and the version chain (and previous_values) stays right."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from claystream_annotate.services.errors import Conflict
from claystream_annotate.services.ports import ResponseDoc
from claystream_annotate.services.responses import bulk_respond, save_response
from claystream_common.events import decode_event
from fakes import FakeResponses

from conftest import World, annotator, make_spec


class RacedResponses(FakeResponses):
    """Another tab of the same user saves record r1 between the bulk's read and its write."""

    def __init__(self, world: World, races: int = 1) -> None:
        super().__init__()
        self.world = world
        self.races = races

    async def write_many_if_version(self, changes: Sequence[tuple[ResponseDoc, int | None]]) -> list[str]:
        if self.races:
            self.races -= 1
            await save_response(actor=annotator(), spec=make_spec(), record_id="r1", status="draft",
                                values={"sentiment": "neg", "note": f"race {self.races}"}, **self.world.ports())
        return await super().write_many_if_version(changes)


async def test_a_save_racing_a_bulk_is_not_overwritten_blindly(world: World) -> None:
    world.responses = RacedResponses(world)
    spec = make_spec()
    for record_id in ("r1", "r2"):
        world.records.add(record_id, spec.id)
    changed = await bulk_respond(actor=annotator(), spec=spec, record_ids=["r1", "r2"], status="submitted",
                                 values={"sentiment": "pos"}, **world.ports())
    assert changed == 2
    r1 = world.responses.documents["r1:u1"]
    assert (r1.version, r1.status, r1.values) == (2, "submitted", {"sentiment": "pos"})
    events = [decode_event(raw.encode()) for raw in r1.outbox]
    assert [(e.type, e.data.version) for e in events] == [("response.updated", 1), ("response.submitted", 2)]
    assert events[1].data.previous_values == {"sentiment": "neg", "note": "race 0"}, "the bulk saw the racing save"


async def test_a_bulk_that_keeps_losing_says_so(world: World) -> None:
    world.responses = RacedResponses(world, races=100)
    spec = make_spec()
    world.records.add("r1", spec.id)
    with pytest.raises(Conflict, match="kept changing"):
        await bulk_respond(actor=annotator(), spec=spec, record_ids=["r1"], status="submitted", values={"sentiment": "pos"}, **world.ports())

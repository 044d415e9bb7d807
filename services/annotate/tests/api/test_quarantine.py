"""GET /api/v1/workspaces/{workspace}/outbox-quarantine and the /admin/quarantine page (issue 17
finding 2), over the real MongoDB with the running relay; and the 422 for answers too large."""

from __future__ import annotations

import asyncio
import time

from annotate_testing import BASE, Annotate
from claystream_common.ports import RecordingPublisher

URL = f"{BASE}/default/datasets/reviews"


async def until(condition, timeout_s: float = 10.0) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not await condition():
        assert time.monotonic() - started < timeout_s, "condition not met in time"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_a_poison_entry_is_quarantined_and_shown_to_admins(annotate: Annotate, publisher: RecordingPublisher) -> None:
    dataset = await annotate.dataset()
    first, second = await annotate.records(dataset, ["one", "two"])
    annotator = await annotate.member("n1")
    responses = annotate.app.state.deps.mongo[annotate.deps.settings.mongo_db]["responses"]
    assert (await annotator.put(f"{URL}/records/{first}/response", json={"values": {"sentiment": "pos"}})).status_code == 200
    await responses.update_one({"record_id": first}, {"$set": {"outbox": ["{not an event"], "outbox_pending": True}})
    assert (await annotator.put(f"{URL}/records/{second}/response", json={"values": {"sentiment": "neg"}})).status_code == 200

    async def second_published() -> bool:
        return any(e.data.record_id == second for e in publisher.of_type("response.submitted"))

    await until(second_published)
    listed = (await annotate.owner.get(f"{BASE}/default/outbox-quarantine")).json()
    assert listed["total"] == 1
    [item] = listed["items"]
    assert (item["reason"], item["record_id"], item["preview"]) == ("undecodable", first, "{not an event")
    assert (await annotator.get(f"{BASE}/default/outbox-quarantine")).status_code == 403
    await annotate.workspace("other")
    stranger = await annotate.member("other-admin", "admin", "other")
    assert (await stranger.get(f"{BASE}/default/outbox-quarantine")).status_code == 404
    assert (await stranger.get(f"{BASE}/other/outbox-quarantine")).json() == {"total": 0, "items": []}
    page = await annotate.owner.get("/admin/quarantine", params={"workspace": "default"})
    assert page.status_code == 200 and "undecodable" in page.text and first in page.text
    assert 'claystream_outbox_quarantined_total{reason="undecodable",service="annotate"}' in (await annotate.owner.get("/metrics")).text


async def test_answers_too_large_for_one_event_get_a_422(annotate: Annotate) -> None:
    questions = [{"name": "sentiment", "type": "label", "labels": ["pos", "neg"]}]
    questions += [{"name": f"note{i}", "type": "text", "required": False} for i in range(30)]
    dataset = await annotate.dataset(questions=questions)
    [record] = await annotate.records(dataset, ["one"])
    values = {"sentiment": "pos", **{f"note{i}": "x" * 10_000 for i in range(30)}}
    answer = await annotate.owner.put(f"{URL}/records/{record}/response", json={"values": values})
    assert answer.status_code == 422 and "values" in answer.text and "262144" in answer.text, answer.text

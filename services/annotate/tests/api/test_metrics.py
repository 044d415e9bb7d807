from __future__ import annotations

from annotate_testing import BASE, Annotate

URL = f"{BASE}/default/datasets/reviews"


async def test_metrics(annotate: Annotate) -> None:
    dataset = await annotate.dataset(min_submitted=2)
    ids = await annotate.records(dataset, ["a", "b"])
    one, two = await annotate.member("m1"), await annotate.member("m2")
    for record, (first, second) in zip(ids, [("pos", "pos"), ("neg", "pos")], strict=True):
        await one.put(f"{URL}/records/{record}/response", json={"values": {"sentiment": first}})
        await two.put(f"{URL}/records/{record}/response", json={"values": {"sentiment": second}})
    metrics = (await annotate.owner.get(f"{URL}/metrics")).json()
    assert {a["username"]: a["submitted"] for a in metrics["annotators"]} == {"m1": 2, "m2": 2}
    assert metrics["distribution"]["sentiment"] == {"pos": 3, "neg": 1}
    assert metrics["agreement"]["sentiment"]["records"] == 2
    assert (await one.get(f"{URL}/metrics")).status_code == 403

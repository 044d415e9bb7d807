"""dataset.queue (the annotation loop: next, answer, release, label) against the real annotate service,
signed in as an annotator."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from claystream import Client, Filter, ValidationFailed

from .conftest import WORKSPACE
from .test_records import make_dataset, rows

PASSWORD = "a-long-password-1"


@pytest.fixture
def annotator_client(make_annotator: Callable[[], str], services: SimpleNamespace) -> Any:
    with Client.login(services.annotate, make_annotator(), PASSWORD, workspace=WORKSPACE) as signed_in:
        yield signed_in


def test_next_answer_and_release_follow_the_leases(client: Client, annotator_client: Client, poll: Callable[..., Any]) -> None:
    dataset = make_dataset(client)
    dataset.records.log(rows(3))
    assert dataset.records.wait_stored(3) == 3
    queue = annotator_client.datasets.get(dataset.name).queue

    first = queue.next()
    assert first is not None and first["fields"]["text"].startswith("review ")
    assert queue.next()["id"] == first["id"], "the lease holds: the same record again"
    with pytest.raises(ValidationFailed, match="sentiment"):
        queue.answer(first["id"], {"sentiment": "maybe"})
    answered = queue.answer(first["id"], {"sentiment": "pos"})
    assert answered.response["values"] == {"sentiment": "pos"} and answered.response["status"] == "submitted"
    assert answered.next is not None and answered.next["id"] != first["id"]

    queue.release(answered.next["id"])
    assert queue.next() is not None  # a released record is handed out again (to anyone, this caller too)
    submitted = Filter(("response.status", "==", "submitted"))  # the record's status follows through the outbox
    assert poll(lambda: [r["id"] for r in dataset.records(filter=submitted)], what="the answer") == [first["id"]]


def test_label_walks_the_queue_discards_and_stops_at_the_limit(client: Client, annotator_client: Client,
                                                              poll: Callable[..., Any]) -> None:
    dataset = make_dataset(client)
    dataset.records.log(rows(7))
    assert dataset.records.wait_stored(7) == 7
    queue = annotator_client.datasets.get(dataset.name).queue
    seen: list[str] = []

    def by_rule(record: dict[str, Any]) -> dict[str, Any] | None:
        seen.append(record["id"])
        number = int(record["fields"]["text"].split()[-1])
        return None if number == 0 else {"sentiment": "pos" if number % 2 else "neg"}

    assert queue.label(by_rule, limit=3) == 3
    assert queue.label(by_rule) == 4, "the rest, the record leased when the limit stopped the loop included"
    assert len(seen) == len(set(seen)) == 7 and queue.next() is None
    assert queue.label(by_rule) == 0

    def counted(status: str) -> int:
        return sum(1 for _ in dataset.records(filter=Filter(("response.status", "==", status))))

    poll(lambda: counted("submitted") == 6 and counted("discarded") == 1, what="6 submitted and 1 discarded")

    with pytest.raises(ValueError, match="limit"):
        queue.label(by_rule, limit=0)


def test_a_failing_function_or_refused_values_release_the_lease(client: Client, annotator_client: Client,
                                                                   make_annotator: Callable[[], str],
                                                                   services: SimpleNamespace) -> None:
    dataset = make_dataset(client)
    dataset.records.log(rows(1))
    assert dataset.records.wait_stored(1) == 1
    queue = annotator_client.datasets.get(dataset.name).queue

    def broken(record: dict[str, Any]) -> dict[str, Any]:
        raise RuntimeError("model down")

    def out_of_vocabulary(record: dict[str, Any]) -> dict[str, Any]:
        return {"sentiment": "meh"}

    for function, error, reason in ((broken, RuntimeError, "model down"), (out_of_vocabulary, ValidationFailed, "sentiment")):
        with pytest.raises(error, match=reason):
            queue.label(function)
        with Client.login(services.annotate, make_annotator(), PASSWORD, workspace=WORKSPACE) as other:
            other_queue = other.datasets.get(dataset.name).queue
            handed = other_queue.next()
            assert handed is not None, f"{reason}: released, another annotator gets the record at once, not after the lease's end"
            other_queue.release(handed["id"])

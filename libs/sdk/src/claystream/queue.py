"""The annotation loop through the SDK: the caller's queue of one dataset, with the web UI's leases.

``dataset.queue.next()`` leases the caller's next record, ``answer`` saves a response and leases the
one after it in the same request (``POST .../queue/answer``, what the web UI's submit does), and
``release`` hands a leased record back.  ``label(function)`` runs the whole loop: a model or a rule
labelling as a named annotator, or a script walking an annotator's share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

if TYPE_CHECKING:
    from claystream.resources import Dataset

Status = Literal["submitted", "draft", "discarded"]


@dataclass(frozen=True)
class Answered:
    """What ``answer`` did: the saved response, and the caller's next record (leased), or None when
    nothing is left."""

    response: dict[str, Any]
    next: dict[str, Any] | None


class DatasetQueue:
    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    def _call(self, method: str, suffix: str, body: Any = None) -> Any:
        return self.dataset.client.annotate_call(method, f"{self.dataset.path}/queue/{suffix}", body=body)

    def next(self) -> dict[str, Any] | None:
        """The caller's next record, leased to them (the record again while its lease holds), or None
        when nothing is left for them."""
        return self._call("GET", "next")

    def answer(self, record_id: str, values: dict[str, Any], *, status: Status = "submitted") -> Answered:
        """Save the caller's response to ``record_id`` and lease their next record, in one request.
        Values are checked by the server against the dataset's questions (:class:`ValidationFailed`
        names the question and the reason)."""
        body = self._call("POST", "answer", {"record_id": record_id, "status": status, "values": dict(values)})
        return Answered(response=dict(body["response"]), next=body["next"])

    def release(self, record_id: str) -> None:
        """Hand a leased record back to the queue without answering it."""
        self._call("POST", f"release/{quote(record_id, safe='')}")

    def label(self, annotate: Callable[[dict[str, Any]], dict[str, Any] | None], *, limit: int | None = None) -> int:
        """Work through the caller's queue: ``annotate(record)`` returns the values to submit, or None
        to discard the record (kept as the caller's discarded response: never handed to them again).

        Stops when the queue is empty or after ``limit`` answers; the record leased last is released
        then, and when ``annotate`` raises or the server refuses its values (the exception propagates:
        :class:`ValidationFailed` names the question).  Returns the number of answers."""
        if limit is not None and limit < 1:
            raise ValueError("limit must be at least 1")
        answered = 0
        record = self.next()
        while record is not None:
            try:
                values = annotate(record)
                status: Status = "discarded" if values is None else "submitted"
                following = self.answer(record["id"], values or {}, status=status).next
            except BaseException:  # the function failed, or the server refused its values (ValidationFailed)
                self.release(record["id"])
                raise
            record = following
            answered += 1
            if limit is not None and answered >= limit:
                if record is not None:
                    self.release(record["id"])
                break
        return answered

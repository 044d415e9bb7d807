"""Import existing labels: responses of named users to records, through the same outbox as answers
given in the UI (so ``response.*`` events reach the trainer and count toward its thresholds).

Every item is checked first (user known and a member of the workspace, values allowed by the
questions, record in the dataset); any problem raises :class:`InvalidItems` with the item's index,
field and reason, and nothing is stored.  ``dry_run`` only checks users and values (the SDK runs
it before logging records, whose responses are imported once annotate stored them).  Values that are
checked against the record's text (span offsets) use the stored record; in a dry run before the record
is stored, the item's ``fields`` (the record's fields as they will be logged) stand in for it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from claystream_common.datasets import DatasetSpec

from claystream_annotate.services.errors import Conflict, Invalid, InvalidItems
from claystream_annotate.services.ports import (
    QueueStore,
    RecordStore,
    ResponseDoc,
    ResponseStore,
    User,
    UserStore,
    Wakeable,
)
from claystream_annotate.services.principals import Principal, Role
from claystream_annotate.services.responses import MAX_ATTEMPTS, _next_doc, response_id
from claystream_annotate.services.validation import validate_values

IMPORT_MAX = 1000


async def _user(users: UserStore, key: str, cache: dict[str, User | None]) -> User | None:
    if key not in cache:
        cache[key] = await users.by_username(key) or await users.get(key)
    return cache[key]


def _member(user: User, workspace: str) -> bool:
    return user.active and (user.role == "owner" or workspace in user.workspaces)


async def import_responses(
    items: Sequence[dict[str, Any]],
    *,
    actor: Principal,
    spec: DatasetSpec,
    dry_run: bool,
    users: UserStore,
    records: RecordStore,
    responses: ResponseStore,
    queue: QueueStore,
    relay: Wakeable | None = None,
) -> int:
    """Items ``{"record_id", "user" (username or id), "values", "status"?, "index"?}``; ``index`` (default:
    the position) is the caller's own numbering, used in errors.  Returns how many responses changed."""
    actor.require(spec.workspace, Role.ADMIN)
    if not 1 <= len(items) <= IMPORT_MAX:
        raise Invalid("items", f"between 1 and {IMPORT_MAX} responses per request")
    cache: dict[str, User | None] = {}
    errors: list[dict[str, Any]] = []
    cleaned: list[tuple[str, str, str, dict[str, Any]]] = []
    record_ids = [str(item.get("record_id")) for item in items]
    stored = {d["_id"]: d for d in await records.get_many(list(dict.fromkeys(record_ids))) if d.get("dataset_id") == spec.id}
    for position, item in enumerate(items):
        index = item.get("index", position)
        status = item.get("status") or "submitted"
        name = item.get("user")
        user = await _user(users, str(name), cache) if isinstance(name, str) and name else None
        if user is None or not _member(user, spec.workspace):
            errors.append({"index": index, "field": "responses.user", "reason": f"unknown user {name!r} in workspace {spec.workspace}"})
            continue
        record = stored.get(record_ids[position])
        if record is None and not dry_run:
            errors.append({"index": index, "field": "record_id", "reason": f"no record {record_ids[position]} in dataset {spec.name}"})
            continue
        if record is None and isinstance(item.get("fields"), dict):
            record = {"fields": item["fields"]}
        try:
            values = validate_values(spec, item.get("values"), status, record=record)
        except Invalid as error:
            errors.append({"index": index, "field": f"responses.{error.field}", "reason": error.reason})
            continue
        cleaned.append((record_ids[position], user.id, status, values))
    if errors:
        raise InvalidItems(errors)
    if dry_run:
        return 0
    latest = {(r, u): (s, v) for r, u, s, v in cleaned}  # the last answer of a (record, user) wins
    answered: dict[tuple[str, bool], list[str]] = defaultdict(list)
    for (record_id, user_id), (status, _) in latest.items():
        answered[(user_id, status == "submitted")].append(record_id)
    changed = 0
    pending = list(latest)
    for _ in range(MAX_ATTEMPTS):  # version-guarded like every save: a concurrent answer is never overwritten blindly
        previous = {doc.id: doc for doc in await responses.get_many([response_id(r, u) for r, u in pending])}
        writes: list[tuple[ResponseDoc, int | None]] = []
        for record_id, user_id in pending:
            status, values = latest[(record_id, user_id)]
            before = previous.get(response_id(record_id, user_id))
            if before is not None and before.status == status and before.values == values:
                continue
            writes.append((_next_doc(spec, record_id, user_id, status, values, before), before.version if before else None))
        lost = set(await responses.write_many_if_version(writes))
        changed += len(writes) - len(lost)
        pending = [(doc.record_id, doc.user_id) for doc, _ in writes if doc.id in lost]
        if not pending:
            break
    if pending:
        raise Conflict(f"{len(pending)} responses kept changing (e.g. record {pending[0][0]}); try again")
    for (user_id, submitted), ids in answered.items():
        await queue.record_answered(spec.id, user_id, ids, dequeue=submitted and spec.min_submitted == 1)
    if relay is not None and changed:
        relay.wake()
    return changed

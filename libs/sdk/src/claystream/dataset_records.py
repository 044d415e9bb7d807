"""``dataset.records``: log (with responses and vectors), iterate lazily, update, delete, find similar.

Iteration walks the server's cursor one page at a time (pages as large as the server's
``records_page_max``): only one page is held, whatever the dataset's size.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from claystream.client import LogResult
from claystream.errors import ValidationFailed
from claystream.flat import dataset_features, flat_row
from claystream.loading import iter_records
from claystream.record_filters import Filter, Query, filter_body, query_params
from claystream.record_types import as_row
from claystream.records import ColumnMap, RecordMapper, batched, rows_of

if TYPE_CHECKING:
    from claystream.resources import Dataset

RESPONSES_WAIT_S = 120.0


class RecordsView:
    """A lazy, re-iterable selection of records (each iteration asks the server again)."""

    def __init__(self, records: DatasetRecords, params: dict[str, Any], *, with_suggestions: bool, with_responses: bool,
                 with_vectors: bool, limit: int | None, page_size: int | None) -> None:
        self._records = records
        self.params = params
        self.with_suggestions = with_suggestions
        self.with_responses = with_responses
        self.with_vectors = with_vectors
        self.limit = limit
        self.page_size = page_size

    def __iter__(self) -> Iterator[dict[str, Any]]:
        dataset = self._records.dataset
        client = dataset.client
        server_max = int(client.limits("annotate")["records_page_max"])
        params = dict(self.params)
        if self.with_vectors:
            params["include_vectors"] = "true"  # vectors: the i12-server contract
        fetch = lambda path, query: client.annotate_call("GET", path, params=query)  # noqa: E731
        for item in iter_records(fetch, workspace=dataset.workspace, dataset=dataset.name, params=params,
                                 page_size=min(self.page_size or server_max, server_max), limit=self.limit):
            if not self.with_suggestions:
                item.pop("suggestions", None)
            if not self.with_responses:
                item.pop("responses", None)
            if not self.with_vectors:
                item.pop("vectors", None)
            yield item

    def to_list(self) -> list[dict[str, Any]]:
        return list(self)

    def flat(self) -> Iterator[dict[str, Any]]:
        settings = self._records.dataset.settings
        return (flat_row(settings, item) for item in self)

    def to_pandas(self) -> Any:
        import pandas as pd

        return pd.DataFrame.from_records(self.flat(), columns=list(dataset_features(self._records.dataset.settings)))

    def to_datasets(self, cache_dir: str | None = None) -> Any:
        """A ``datasets.Dataset`` written row by row to an Arrow file (memory-mapped: the records are
        never all held in memory) in ``cache_dir`` (default: a new temporary folder)."""
        import tempfile
        from pathlib import Path

        from datasets import Dataset
        from datasets.arrow_writer import ArrowWriter

        features = dataset_features(self._records.dataset.settings, arrow=True)
        path = Path(cache_dir or tempfile.mkdtemp(prefix="claystream-")) / f"{self._records.dataset.name}.arrow"
        writer = ArrowWriter(features=features, path=str(path))
        try:
            for row in self.flat():
                writer.write(row)
            writer.finalize()
        finally:
            writer.close()
        return Dataset.from_file(str(path))


def _responses_of(row: Any) -> list[dict[str, Any]]:
    """Argilla-style responses (``{"question", "value", "user", "status"?}``) or per-user
    ``{"user", "values", "status"?}``, grouped per user."""
    given = row.get("responses") if hasattr(row, "get") else None
    if not given:
        return []
    per_user: dict[tuple[str, str], dict[str, Any]] = {}
    for response in given:
        user = response.get("user") or response.get("user_id") or response.get("username")
        status = response.get("status") or "submitted"
        values = dict(response.get("values") or {})
        if "question" in response:
            values[response["question"]] = response.get("value")
        per_user.setdefault((str(user), status), {}).update(values)
    return [{"user": user, "status": status, "values": values} for (user, status), values in per_user.items()]


class DatasetRecords:
    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    @property
    def _path(self) -> str:
        return self.dataset.path

    def __call__(
        self,
        query: Query | str | None = None,
        filter: Filter | None = None,  # noqa: A002 - Argilla's name
        sort: Any = None,
        *,
        with_suggestions: bool = True,
        with_responses: bool = True,
        with_vectors: bool = False,
        limit: int | None = None,
        page_size: int | None = None,
    ) -> RecordsView:
        return RecordsView(self, query_params(query, filter, sort), with_suggestions=with_suggestions,
                           with_responses=with_responses, with_vectors=with_vectors, limit=limit, page_size=page_size)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self())

    def to_datasets(self) -> Any:
        return self().to_datasets()

    def to_pandas(self) -> Any:
        return self().to_pandas()

    def to_list(self) -> list[dict[str, Any]]:
        return self().to_list()

    # ------------------------------------------------------------------ writing
    def log(
        self,
        records: Any,
        *,
        fields: ColumnMap = None,
        metadata: ColumnMap = None,
        id_column: str | None = "id",
        batch_size: int | None = None,
        concurrency: int = 2,
        progress: bool = False,
        responses_wait_s: float = RESPONSES_WAIT_S,
    ) -> LogResult:
        """Log records with fields, metadata, suggestions, vectors and responses (existing labels of
        named users: they go through annotate's response outbox, so the trainer counts them).

        Responses are checked (users, allowed values) before anything is sent when ``records`` has a
        length (list, DataFrame, Dataset), else before each batch; a problem raises
        :class:`ValidationFailed` naming the record index, the field and the reason."""
        client = self.dataset.client
        size = client.batch_size(batch_size)
        import_max = int(client.limits("annotate")["responses_import_max"])
        mapper = RecordMapper(fields=fields, metadata=metadata, id_column=id_column)
        answers: list[dict[str, Any]] = []
        rows, total = rows_of(records)
        rows = (as_row(row) for row in rows)
        checked_first = total is not None
        # answers checked against their record's text (spans) are dry-run with the fields the record will have
        with_fields = any(getattr(q, "checked_against_text", False) for q in self.dataset.settings.questions)

        def responses_of(row: Any, index: int, record: dict[str, Any] | None = None) -> list[dict[str, Any]]:
            answers = _responses_of(row)
            if not answers:
                return []
            extra = {"fields": (record or mapper(row)).get("fields")} if with_fields else {}  # the row mapped once
            return [{**response, "index": index, **extra} for response in answers]

        if checked_first:
            everything = (
                response for index, row in enumerate(rows_of(records)[0]) for response in responses_of(as_row(row), index)
            )
            self._check_responses(everything, import_max)

        def checked() -> Iterator[dict[str, Any]]:
            offset = 0
            for batch in batched(rows, size):
                mapped, pending = [], []
                for position, row in enumerate(batch):
                    mapped.append(mapper(row))
                    pending.extend(responses_of(row, offset + position, mapped[-1]))
                if not checked_first:
                    self._check_responses(pending, import_max)
                answers.extend({k: v for k, v in answer.items() if k != "fields"} for answer in pending)
                offset += len(batch)
                yield from mapped

        path = f"/api/v1/datasets/{self.dataset.name}/records:bulk"
        result = client._send_batches(checked(), total, path, None, batch_size=size, concurrency=concurrency,
                                      progress=progress, unit="records", ids_key="record_ids")
        if answers:
            for answer in answers:
                answer["record_id"] = result.ids[answer["index"]]
            for chunk in batched(answers, import_max):
                self._import_when_stored(chunk, deadline=time.monotonic() + responses_wait_s)
        return result

    def _check_responses(self, responses: Iterable[dict[str, Any]], import_max: int) -> None:
        """Dry-run imports (users and values); every problem of every chunk in one ValidationFailed."""
        client = self.dataset.client
        failed: ValidationFailed | None = None
        for chunk in batched(responses, import_max):
            try:
                client.annotate_call("POST", f"{self._path}/responses:import", body={"items": chunk, "dry_run": True})
            except ValidationFailed as error:
                if failed is None:
                    failed = error
                else:
                    failed.body.setdefault("errors", []).extend(error.errors)
        if failed is not None:
            raise failed

    def _import_when_stored(self, items: list[dict[str, Any]], *, deadline: float) -> int:
        """Records reach annotate through Kafka: retry while the only problem is records not stored yet."""
        client = self.dataset.client
        delay = 0.1
        while True:
            try:
                return int(client.annotate_call("POST", f"{self._path}/responses:import", body={"items": items})["imported"])
            except ValidationFailed as error:
                waiting = error.errors and all(e.get("field") == "record_id" for e in error.errors)
                if not waiting or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(1.0, delay * 2)

    def wait_stored(self, count: int, *, timeout_s: float = 120.0) -> int:
        """Wait until the dataset holds at least ``count`` records (logging is asynchronous)."""
        deadline = time.monotonic() + timeout_s
        while True:
            body = self.dataset.client.annotate_call("GET", f"{self._path}/records", params={"limit": 1})
            stored = int(body.get("total") or 0)
            if stored >= count or time.monotonic() > deadline:
                return stored
            time.sleep(0.2)

    def update(self, records: Iterable[dict[str, Any]]) -> int:
        """Replace ``metadata`` and/or ``suggestions`` of records (``{"id", "metadata"?, "suggestions"?}``)."""
        client = self.dataset.client
        size = int(client.limits("annotate")["records_update_max"])
        updated = 0
        offset = 0
        for batch in batched(records, size):
            items = [{k: v for k, v in r.items() if k in ("id", "metadata", "suggestions")} for r in batch]
            try:
                updated += int(client.annotate_call("PATCH", f"{self._path}/records", body={"items": items})["updated"])
            except ValidationFailed as error:
                for item in error.errors:
                    if isinstance(item.get("index"), int):
                        item["index"] += offset
                raise
            offset += len(batch)
        return updated

    def delete(self, ids: Iterable[str] | None = None, *, query: Query | str | None = None,
               filter: Filter | None = None) -> int:  # noqa: A002
        """Delete records by id, or every record matching ``query`` / ``filter``; returns how many."""
        client = self.dataset.client
        if ids is not None:
            size = int(client.limits("annotate")["records_delete_max"])
            return sum(int(client.annotate_call("POST", f"{self._path}/records:delete", body={"ids": chunk})["deleted"])
                       for chunk in batched(ids, size))
        body = filter_body(query_params(query, filter, None))
        if not body:
            raise ValueError("delete needs ids, a query or a filter (to delete everything, delete the dataset)")
        return int(client.annotate_call("POST", f"{self._path}/records:delete", body={"filter": body})["deleted"])

    def similar(self, *, vector_name: str, record_id: str | None = None, vector: Iterable[float] | None = None,
                k: int = 10, query: Query | str | None = None,
                filter: Filter | None = None) -> list[dict[str, Any]]:  # noqa: A002
        """The ``k`` records most similar (cosine) to a record (itself excluded) or to a vector, among
        those matching ``query`` / ``filter``; best first, each with its ``score``.  ``vector_name``: a
        vector field, or ``trainer_embeddings`` (the trainer's sentence embeddings, any dataset)."""
        body: dict[str, Any] = {"vector_field": vector_name, "k": k}
        if record_id is not None:
            body["record_id"] = record_id
        if vector is not None:
            body["vector"] = [float(v) for v in vector]
        conditions = filter_body(query_params(query, filter, None))
        if conditions:
            body["filter"] = conditions
        answer = self.dataset.client.annotate_call("POST", f"{self._path}/records/similar", body=body)
        return list(answer.get("items") or [])

    def log_from(self, path: str, **options: Any) -> LogResult:
        """Log a local file or folder: a HF ``datasets`` folder (``save_to_disk``), CSV, JSONL or Parquet."""
        from claystream.portable import read_source

        return self.log(read_source(path), **options)

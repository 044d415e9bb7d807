"""The Claystream client: log records, predictions and feedback; load annotated datasets."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from tqdm.auto import tqdm

from claystream._http import RetryingJson, decode
from claystream.errors import ClaystreamError, ValidationFailed, error_for
from claystream.records import ColumnMap, RecordMapper, rows_of, sized_batches
from claystream.session import sign_in, sign_out
from claystream.webhooks import Webhooks


@dataclass
class LogResult:
    accepted: int = 0
    ids: list[str] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)


class Client:
    """``Client(url, api_key, annotate_url=None)``: ``url`` is the ingest service, ``annotate_url`` serves ``load``.

    Admins and owners sign in instead: ``Client.login(annotate_url, username, password)`` (or
    ``Client(annotate_url=..., username=..., password=...)``) keeps annotate's session and CSRF token,
    so that ``client.users`` and the API keys of ``client.workspaces`` work; ``client.logout()`` ends
    it.  A signed-in client talks to annotate only (ingest takes API keys)."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        annotate_url: str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        workspace: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 6,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        signing_in = username is not None or password is not None
        if signing_in == (api_key is not None):
            raise ClaystreamError("give either api_key, or username and password (to sign in to annotate)")
        if signing_in and (not username or not password or not annotate_url):
            raise ClaystreamError("signing in needs username, password and annotate_url")
        if signing_in and url:
            raise ClaystreamError("ingest takes API keys only: a signed-in client talks to annotate (drop url)")
        headers = {"User-Agent": "claystream-python/0.1"} | ({"X-API-Key": api_key} if api_key else {})
        limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
        options: dict[str, Any] = {"max_retries": max_retries, "backoff_s": backoff_s}
        if sleep is not None:
            options["sleep"] = sleep
        self._ingest = (
            RetryingJson(httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s,
                                      transport=transport, limits=limits), **options)
            if url else None
        )
        self._annotate = (
            RetryingJson(httpx.Client(base_url=annotate_url.rstrip("/"), headers=headers, timeout=timeout_s,
                                      transport=transport), **options)
            if annotate_url else None
        )
        if self._ingest is None and self._annotate is None:
            raise ClaystreamError("give url (the ingest service) and/or annotate_url")
        self._workspace = workspace
        self._limits: dict[str, dict[str, Any]] = {}
        self.user: dict[str, Any] | None = None
        """The signed-in user (``id``, ``username``, ``role``, ``memberships``, ...); None for an API key."""
        if signing_in:
            assert self._annotate is not None and username and password
            try:
                self.user = sign_in(self._annotate, username, password)
            except BaseException:
                self.close()
                raise

    @classmethod
    def login(cls, annotate_url: str, username: str, password: str, *, workspace: str | None = None,
              **options: Any) -> Client:
        """Sign in to annotate as a user (its login: session cookie + CSRF token); see :meth:`logout`."""
        return cls(annotate_url=annotate_url, username=username, password=password, workspace=workspace, **options)

    def logout(self) -> None:
        """End the session on the server (a copy of its cookie stops working too)."""
        if self.user is None or self._annotate is None:
            raise ClaystreamError("this client is not signed in (it uses an API key)")
        sign_out(self._annotate)
        self.user = None

    def close(self) -> None:
        if self._ingest is not None:
            self._ingest.client.close()
        if self._annotate is not None:
            self._annotate.client.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------------ identity
    @property
    def workspace(self) -> str:
        """The API key's workspace (asked once from the ingest service); for a signed-in user, the one
        workspace they belong to (else pass ``workspace=`` to the client or to each call)."""
        if self._workspace is None and self._ingest is not None:
            self._workspace = str(self._call(self._ingest, "GET", "/api/v1/me")["workspace"])
        elif self._workspace is None:
            held = self.me().get("workspaces")
            if not held or len(held) != 1:
                raise ClaystreamError(f"you reach {'every workspace' if held is None else held}: "
                                      "pass workspace= to Client or to the call")
            self._workspace = str(held[0])
        return self._workspace

    def me(self) -> dict[str, Any]:
        """Who the annotate service sees: ``username``, ``role``, ``workspaces``, ``memberships``, ``kind``."""
        return dict(self.annotate_call("GET", "/api/v1/me"))

    @property
    def webhooks(self) -> Webhooks:
        """The workspace's webhook subscriptions (an admin API key; needs ``annotate_url``)."""
        if self._annotate is None:
            raise ClaystreamError("webhooks are managed through annotate: pass annotate_url to Client")
        return Webhooks(self._annotate, lambda: self.workspace)

    def limits(self, service: str = "ingest") -> dict[str, Any]:
        """The limits a service publishes (``GET /api/v1/limits``, asked once): page and batch sizes
        come from here, never from constants of the SDK."""
        if service not in self._limits:
            http = self._ingest_http() if service == "ingest" else self._annotate_http()
            self._limits[service] = dict(self._call(http, "GET", "/api/v1/limits"))
        return self._limits[service]

    def _ingest_http(self) -> RetryingJson:
        if self._ingest is None:
            raise ClaystreamError("this needs the ingest service and an API key: Client(url, api_key, ...)")
        return self._ingest

    def _annotate_http(self) -> RetryingJson:
        if self._annotate is None:
            raise ClaystreamError("this needs the annotate service: Client(url, api_key, annotate_url=...)")
        return self._annotate

    def annotate_call(self, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None) -> Any:
        """One JSON call to the annotate service (typed errors: NotFound, Conflict, Forbidden, ...)."""
        return self._call(self._annotate_http(), method, path, body=body, params=params)

    # ------------------------------------------------------------------ Argilla-style resources
    @property
    def datasets(self) -> Any:
        """``client.datasets.create(name, workspace, settings=Settings(...))``, ``.get``, ``.list``, ``.delete``."""
        from claystream.resources import Datasets

        return Datasets(self)

    @property
    def users(self) -> Any:
        """Members of a workspace: list, create, disable/enable, set_password, set_role (a signed-in admin)."""
        from claystream.admin import Users

        return Users(self)

    @property
    def workspaces(self) -> Any:
        """Workspaces; members and API keys of one (a signed-in admin): add_member, create_api_key, ..."""
        from claystream.admin import Workspaces

        return Workspaces(self)

    def batch_size(self, asked: int | None, limit_name: str = "max_records_per_request") -> int:
        limit = int(self.limits("ingest")[limit_name])
        return limit if asked is None else max(1, min(asked, limit))

    # ------------------------------------------------------------------ records
    def log(
        self,
        records: Any,
        dataset: str,
        *,
        fields: ColumnMap = None,
        metadata: ColumnMap = None,
        id_column: str | None = "id",
        batch_size: int | None = None,
        concurrency: int = 2,
        partial: bool = False,
        progress: bool = True,
    ) -> LogResult:
        """Send records in batches (retrying 429/503); returns record ids in input order.

        ``records``: list of dicts, pandas DataFrame or datasets.Dataset; flat rows are mapped by
        ``fields`` / ``metadata`` / ``id_column`` (see :class:`claystream.records.RecordMapper`).
        All-or-nothing per batch unless ``partial``: a bad batch raises :class:`ValidationFailed`
        with item indexes counted over the whole call.  ``batch_size``: at most the server's
        ``max_records_per_request`` (the default).
        """
        batch_size = self.batch_size(batch_size)
        rows, total = rows_of(records)
        mapper = RecordMapper(fields=fields, metadata=metadata, id_column=id_column)
        path = f"/api/v1/datasets/{quote(dataset, safe='')}/records:bulk"
        params = {"partial": "true"} if partial else None
        return self._send_batches(
            (mapper(row) for row in rows), total, path, params, batch_size=batch_size, concurrency=concurrency,
            progress=progress, unit="records", ids_key="record_ids",
        )

    # ------------------------------------------------------------------ production traffic
    def log_prediction(
        self,
        request_id: str,
        *,
        model: str,
        text: str,
        predicted_label: str,
        scores: Mapping[str, float] | None = None,
        model_version: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        predicted_at: datetime | str | None = None,
        dataset: str | None = None,
    ) -> str:
        """Log one prediction; returns its event id."""
        body = _without_none({"request_id": request_id, "model": model, "text": text,
                              "predicted_label": predicted_label,
                              "scores": scores, "model_version": model_version, "metadata": metadata,
                              "predicted_at": predicted_at, "dataset": dataset})
        return str(self._call(self._ingest_http(), "POST", "/api/v1/predictions", body=body)["event_ids"][0])

    def log_predictions(
        self, predictions: Iterable[Mapping[str, Any]], *, batch_size: int | None = None, concurrency: int = 2,
        progress: bool = False,
    ) -> LogResult:
        batch_size = self.batch_size(batch_size, "max_predictions_per_request")
        items = list(predictions)
        return self._send_batches(
            (_without_none(dict(item)) for item in items), len(items), "/api/v1/predictions:bulk", None,
            batch_size=batch_size, concurrency=concurrency, progress=progress, unit="predictions", ids_key="event_ids",
        )

    def log_feedback(
        self,
        request_id: str,
        *,
        true_label: str | None = None,
        signal: str | None = None,
        model: str | None = None,
        received_at: datetime | str | None = None,
        dataset: str | None = None,
    ) -> str:
        """Log the true label and/or a user signal (e.g. ``thumbs_down``) for a prediction's request id."""
        body = _without_none({"request_id": request_id, "true_label": true_label, "signal": signal, "model": model,
                              "received_at": received_at, "dataset": dataset})
        return str(self._call(self._ingest_http(), "POST", "/api/v1/feedback", body=body)["event_ids"][0])

    def log_feedbacks(self, items: Iterable[Mapping[str, Any]], *, batch_size: int | None = None) -> LogResult:
        batch_size = self.batch_size(batch_size, "max_predictions_per_request")
        listed = list(items)
        return self._send_batches(
            (_without_none(dict(item)) for item in listed), len(listed), "/api/v1/feedback:bulk", None,
            batch_size=batch_size, concurrency=1, progress=False, unit="feedback", ids_key="event_ids",
        )

    # ------------------------------------------------------------------ reading back (annotate)
    def load(self, dataset: str, **options: Any) -> Any:
        """The dataset's records with responses and suggestions, as a ``datasets.Dataset``.

        ``response_status`` (submitted, draft, discarded, pending) looks at every annotator's
        answers for an admin key (pending: nobody answered); ``query``, ``limit``; pages are as
        large as the server allows (``records_page_max``) unless ``page_size`` is smaller."""
        from claystream.flat import records_to_dataset
        from claystream.loading import load_records

        settings = self.datasets.get(dataset).settings  # the columns follow the settings, whatever was answered so far
        http = self._annotate_http()
        limit = int(self.limits("annotate")["records_page_max"])
        options["page_size"] = min(int(options.get("page_size") or limit), limit)
        items = load_records(lambda path, params: self._call(http, "GET", path, params=params),
                             workspace=self.workspace, dataset=dataset, **options)
        return records_to_dataset(settings, items)

    def prepare_for_training(self, dataset: Any, **options: Any) -> Any:
        """A text/label ``datasets.Dataset`` from a loaded dataset (or its name)."""
        from claystream.training import prepare_for_training

        loaded = self.load(dataset) if isinstance(dataset, str) else dataset
        return prepare_for_training(loaded, **options)

    # ------------------------------------------------------------------ plumbing
    def _call(self, http: RetryingJson | None, method: str, path: str, *, body: Any = None,
              params: dict[str, Any] | None = None) -> Any:
        assert http is not None
        response = http.request(method, path, body=body, params=params)
        payload = decode(response)
        if response.status_code >= 400:
            raise error_for(response.status_code, payload, method=method, url=path)
        return payload

    def _body_budget(self) -> int:
        """Bytes a batch's JSON may take: the ingest service's ``max_body_bytes`` less room for the envelope."""
        return int(int(self.limits("ingest")["max_body_bytes"]) * 0.95) - 1024

    def _send_batches(
        self, items: Iterator[dict[str, Any]], total: int | None, path: str, params: dict[str, Any] | None, *,
        batch_size: int, concurrency: int, progress: bool, unit: str, ids_key: str,
    ) -> LogResult:
        result = LogResult()
        bar = tqdm(total=total, unit=unit, disable=not progress, desc=f"logging {unit}")
        offsets: list[int] = []
        pending: list[Future[Any]] = []

        def collect(future: Future[Any], offset: int) -> None:
            try:
                payload = future.result()
            except ValidationFailed as error:
                for item in error.errors:
                    if isinstance(item.get("index"), int):
                        item["index"] += offset
                error.accepted_before = result.accepted
                raise
            result.accepted += int(payload["accepted"])
            result.ids.extend(payload[ids_key])
            for item in payload.get("rejected") or []:
                if isinstance(item.get("index"), int):
                    item["index"] += offset
                result.rejected.append(item)
            bar.update(int(payload["accepted"]) + len({r.get("index") for r in payload.get("rejected") or []}))

        try:
            with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
                offset = 0
                for batch in sized_batches(items, batch_size, self._body_budget()):
                    pending.append(
                        pool.submit(self._call, self._ingest_http(), "POST", path, body={"items": batch}, params=params)
                    )
                    offsets.append(offset)
                    offset += len(batch)
                    while len(pending) >= max(1, concurrency):  # keep results in order, bound memory
                        collect(pending.pop(0), offsets.pop(0))
                while pending:
                    collect(pending.pop(0), offsets.pop(0))
        finally:
            for future in pending:
                future.cancel()
            bar.close()
        return result


def _without_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}

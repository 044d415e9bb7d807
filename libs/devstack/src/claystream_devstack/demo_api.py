"""The demo's HTTP side: service-token calls to annotate / trainer / monitor, and the annotator's session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

CSRF_HEADER = "X-CSRF-Token"


class ApiFailure(RuntimeError):
    """A call answered with an unexpected status (the message names the call and the body)."""


def _check(response: httpx.Response, *expected: int) -> httpx.Response:
    if response.status_code not in expected:
        body = response.text[:500]
        raise ApiFailure(f"{response.request.method} {response.request.url.path} → {response.status_code}: {body}")
    return response


@dataclass(frozen=True)
class ServiceUrls:
    annotate: str
    ingest: str
    trainer: str | None = None
    monitor: str | None = None
    predict: str | None = None  # the predict role (stateless replicas); None: the trainer serves predict


class DemoApi:
    """Service-to-service calls (``Authorization: Bearer <service_token>`` + ``X-Claystream-Workspace``)."""

    def __init__(self, urls: ServiceUrls, *, service_token: str, workspace: str, dataset: str, timeout_s: float = 60.0):
        self.urls = urls
        self.workspace = workspace
        self.dataset = dataset
        headers = {"Authorization": f"Bearer {service_token}", "X-Claystream-Workspace": workspace}
        self._http = httpx.Client(headers=headers, timeout=timeout_s)

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ annotate
    @property
    def dataset_path(self) -> str:
        return f"{self.urls.annotate}/api/v1/workspaces/{self.workspace}/datasets/{quote(self.dataset)}"

    def workspaces(self) -> list[str]:
        return list(_check(self._http.get(f"{self.urls.annotate}/api/v1/workspaces"), 200).json())

    def members(self) -> list[dict[str, Any]]:
        return list(_check(self._http.get(f"{self.urls.annotate}/api/v1/workspaces/{self.workspace}/users"), 200).json())

    def create_api_key(self, name: str, role: str = "admin") -> str:
        url = f"{self.urls.annotate}/api/v1/workspaces/{self.workspace}/api-keys"
        return str(_check(self._http.post(url, json={"name": name, "role": role}), 201).json()["api_key"])

    def get_dataset(self) -> dict[str, Any] | None:
        response = self._http.get(self.dataset_path)
        if response.status_code == 404:
            return None
        return dict(_check(response, 200).json())

    def create_dataset(self, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.urls.annotate}/api/v1/workspaces/{self.workspace}/datasets"
        return dict(_check(self._http.post(url, json=body), 201).json())

    def patch_dataset(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(_check(self._http.patch(self.dataset_path, json=body), 200).json())

    def records(self, **params: Any) -> dict[str, Any]:
        params = {k: v for k, v in params.items() if v is not None}
        return dict(_check(self._http.get(f"{self.dataset_path}/records", params=params), 200).json())

    def all_records(self, *, page: int = 200, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            answer = self.records(limit=page, after=after, **params)
            items.extend(answer["items"])
            after = answer.get("next_after")
            if not after or not answer["items"]:
                return items

    def record_total(self, **params: Any) -> int:
        answer = self.records(limit=1, count="true", **params)
        total = answer.get("total")
        return int(total) if total is not None else len(self.all_records(**params))

    # ------------------------------------------------------------------ trainer
    def _trainer(self, path: str) -> str:
        if not self.urls.trainer:
            raise ApiFailure("the trainer service is not running")
        return f"{self.urls.trainer}/api/v1/models/{quote(self.dataset)}{path}"

    def models(self) -> dict[str, Any]:
        return dict(_check(self._http.get(self._trainer("")), 200).json())

    def training_status(self) -> dict[str, Any]:
        return dict(_check(self._http.get(self._trainer("/status")), 200).json())

    def predict(self, texts: list[str], *, forward: bool, request_id: str | None = None,
                replica: bool = False) -> dict[str, Any]:
        """``replica``: through the predict role when it runs (production traffic), else the trainer."""
        body: dict[str, Any] = {"texts": texts, "forward": forward}
        if request_id:
            body["request_id"] = request_id
        url = self._trainer("/predict")
        if replica and self.urls.predict and self.urls.trainer:
            url = url.replace(self.urls.trainer, self.urls.predict, 1)
        return dict(_check(self._http.post(url, json=body), 200).json())

    # ------------------------------------------------------------------ monitor
    def monitor_get(self, path: str) -> httpx.Response:
        if not self.urls.monitor:
            raise ApiFailure("the monitor service is not running")
        return self._http.get(f"{self.urls.monitor}{path}")


class AnnotatorSession:
    """A logged-in annotator (session cookie + CSRF header), labelling through the JSON API."""

    def __init__(self, annotate_url: str, workspace: str, dataset: str, *, timeout_s: float = 30.0) -> None:
        self._base = f"{annotate_url}/api/v1/workspaces/{workspace}/datasets/{quote(dataset)}"
        self._login_url = f"{annotate_url}/api/v1/auth/login"
        self._http = httpx.Client(timeout=timeout_s)

    def login(self, username: str, password: str) -> None:
        answer = _check(self._http.post(self._login_url, json={"username": username, "password": password}), 200).json()
        self._http.headers[CSRF_HEADER] = answer["csrf_token"]

    def next_record(self) -> dict[str, Any] | None:
        response = _check(self._http.get(f"{self._base}/queue/next"), 200, 204)
        return None if response.status_code == 204 else dict(response.json())

    def release(self, record_id: str) -> None:
        _check(self._http.post(f"{self._base}/queue/release/{record_id}"), 204)

    def submit(self, record_id: str, values: dict[str, Any]) -> None:
        url = f"{self._base}/records/{record_id}/response"
        _check(self._http.put(url, json={"status": "submitted", "values": values}), 200)

    def submitted_ids(self) -> set[str]:
        """Records this annotator has submitted already (a second run does not label them again)."""
        ids: set[str] = set()
        after: str | None = None
        while True:
            params = {"response_status": "submitted", "limit": 200, **({"after": after} if after else {})}
            answer = _check(self._http.get(f"{self._base}/records", params=params), 200).json()
            ids.update(str(item["id"]) for item in answer["items"])
            after = answer.get("next_after")
            if not after or not answer["items"]:
                return ids

    def close(self) -> None:
        self._http.close()

"""Argilla-2.x-like resources on the annotate service: datasets, users, workspaces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from claystream.settings import Settings

if TYPE_CHECKING:
    from claystream.client import Client
    from claystream.dataset_records import DatasetRecords
    from claystream.queue import DatasetQueue


def _q(value: str) -> str:
    return quote(value, safe="")


@dataclass
class Dataset:
    """A dataset on the server: ``.settings``, ``.records``, ``.queue``, ``.progress``; ``.update(settings)``,
    ``.delete()``."""

    client: Client = field(repr=False)
    name: str
    workspace: str
    id: str
    settings: Settings
    progress: dict[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, client: Client, body: dict[str, Any]) -> Dataset:
        return cls(client, body["name"], body["workspace"], str(body.get("id")), Settings.from_body(body),
                   dict(body.get("progress") or {}))

    @property
    def path(self) -> str:
        return f"/api/v1/workspaces/{_q(self.workspace)}/datasets/{_q(self.name)}"

    @property
    def records(self) -> DatasetRecords:
        from claystream.dataset_records import DatasetRecords

        return DatasetRecords(self)

    @property
    def queue(self) -> DatasetQueue:
        """The caller's annotation queue: ``next()``, ``answer(record_id, values)``, ``release``, ``label(fn)``."""
        from claystream.queue import DatasetQueue

        return DatasetQueue(self)

    def update(self, settings: Settings | None = None, **changes: Any) -> Dataset:
        """Change settings (guidelines, questions, metadata, distribution, ...) on the server."""
        body = {**((settings or self.settings).to_body()), **changes}
        updated = Dataset.of(self.client, self.client.annotate_call("PATCH", self.path, body=body))
        self.settings = updated.settings
        return self

    def delete(self) -> None:
        self.client.annotate_call("DELETE", self.path)

    def to_disk(self, path: str) -> None:
        """Settings (``settings.json``) and every record (``records.jsonl``) into the folder ``path``."""
        from claystream.portable import dataset_to_disk

        dataset_to_disk(self, path)


class Datasets:
    def __init__(self, client: Client) -> None:
        self.client = client

    def _base(self, workspace: str | None) -> str:
        return f"/api/v1/workspaces/{_q(workspace or self.client.workspace)}/datasets"

    def create(self, name: str, workspace: str | None = None, *, settings: Settings) -> Dataset:
        """Create the dataset (409 → :class:`Conflict` when the name is taken)."""
        body = {"name": name, **settings.to_body()}
        return Dataset.of(self.client, self.client.annotate_call("POST", self._base(workspace), body=body))

    def get(self, name: str, workspace: str | None = None) -> Dataset:
        """The dataset (:class:`NotFound` when it does not exist or is not visible)."""
        return Dataset.of(self.client, self.client.annotate_call("GET", f"{self._base(workspace)}/{_q(name)}"))

    def __call__(self, name: str, workspace: str | None = None) -> Dataset:
        return self.get(name, workspace)

    def list(self, workspace: str | None = None) -> list[Dataset]:
        return [Dataset.of(self.client, body) for body in self.client.annotate_call("GET", self._base(workspace))]

    def delete(self, name: str, workspace: str | None = None) -> None:
        self.client.annotate_call("DELETE", f"{self._base(workspace)}/{_q(name)}")

    def from_disk(self, path: str, name: str | None = None, workspace: str | None = None) -> Dataset:
        """Create a dataset from a folder written by ``Dataset.to_disk`` and log its records (with responses)."""
        from claystream.portable import dataset_from_disk

        return dataset_from_disk(self, path, name=name, workspace=workspace)

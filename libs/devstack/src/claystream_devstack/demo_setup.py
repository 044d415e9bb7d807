"""The walkthrough's set-up, idempotent: workspace, annotator, API key, dataset, 100 unlabelled reviews.

Credentials are kept in ``<state>/demo-credentials.json`` (mode 0600) so a second run reuses
them instead of creating new ones; records have deterministic ids (from their IMDb ids), so
re-importing never duplicates.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from claystream_devstack.demo_api import DemoApi
from claystream_devstack.demo_steps import wait_for

GUIDELINES = """# Sentiment of IMDb movie reviews

Read the whole review, then choose the overall opinion of the reviewer about the movie:

* **positive** — the reviewer liked the movie, or recommends it on balance;
* **negative** — the reviewer disliked the movie, or advises against it on balance.

Ignore plot summaries; judge the reviewer's verdict. Mixed reviews: pick the side the final verdict leans to.
Keyboard: `1` positive, `2` negative, `Enter` submit, `Backspace` discard.
"""


# ``source``: where the demo took a review from; the rest tag the samples the monitor sends back
METADATA_PROPERTIES: list[dict[str, Any]] = [
    {"name": "source", "type": "terms"},
    {"name": "origin", "type": "terms"},
    {"name": "model", "type": "terms"},
    {"name": "model_version", "type": "terms"},
    {"name": "predicted_label", "type": "terms"},
    {"name": "score", "type": "float"},
    {"name": "reason", "type": "terms"},
    {"name": "request_id", "type": "terms"},
]


@dataclass
class Credentials:
    annotator_username: str
    annotator_password: str | None
    api_key: str | None = None


def dataset_body(name: str, trainer: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "guidelines": GUIDELINES,
        "fields": [{"name": "text", "title": "Review", "required": True}],
        "questions": [{"name": "sentiment", "title": "Sentiment", "type": "label", "labels": ["positive", "negative"]}],
        "metadata_properties": METADATA_PROPERTIES,
        "trainer": trainer,
    }


class CredentialStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> Credentials | None:
        try:
            return Credentials(**json.loads(self.path.read_text()))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def save(self, credentials: Credentials) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(asdict(credentials)))
        self.path.chmod(0o600)


def create_annotator_with_cli(username: str, workspace: str, annotate_env: dict[str, str]) -> str:
    """``python -m claystream_annotate.cli create-user --generate`` (creates the workspace too); returns the password."""
    command = [sys.executable, "-m", "claystream_annotate.cli", "create-user", username, "--role", "annotator",
               "--workspace", workspace, "--generate"]
    done = subprocess.run(command, env={**os.environ, **annotate_env}, capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"annotate CLI create-user failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    found = re.search(r"^password: (\S+)$", done.stdout, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"annotate CLI printed no password: {done.stdout.strip()[-300:]}")
    return found.group(1)


def ensure_annotator(api: DemoApi, store: CredentialStore, *, username: str, annotate_env: dict[str, str]) -> Credentials:
    """The workspace and its annotator (created once; the password is generated and kept in the store)."""
    saved = store.load()
    exists = api.workspace in api.workspaces() and any(m["username"] == username for m in api.members())
    if exists and saved is not None and saved.annotator_username == username:
        return saved
    if exists:  # created by an earlier run whose credentials file is gone: the password cannot be shown again
        credentials = Credentials(username, None, saved.api_key if saved else None)
    else:
        credentials = Credentials(username, create_annotator_with_cli(username, api.workspace, annotate_env),
                                  saved.api_key if saved else None)
    store.save(credentials)
    return credentials


def ensure_api_key(api: DemoApi, store: CredentialStore, credentials: Credentials) -> str:
    """The SDK's workspace key: the saved one while ingest accepts it, else a new one."""
    if credentials.api_key:
        answer = httpx.get(f"{api.urls.ingest}/api/v1/me", headers={"X-API-Key": credentials.api_key}, timeout=30)
        if answer.status_code == 200:
            return credentials.api_key
    credentials.api_key = api.create_api_key("demo-sdk", role="admin")
    store.save(credentials)
    return credentials.api_key


def mask_api_key(key: str) -> str:
    """``cs_<id>_…``: the key's id without its secret (which may itself contain ``_``)."""
    return "_".join(key.split("_", 2)[:2]) + "_…"


def ensure_dataset(api: DemoApi, trainer: dict[str, Any]) -> str:
    """Create the dataset, or bring an existing one's trainer settings and properties in line; says which."""
    current = api.get_dataset()
    if current is None:
        api.create_dataset(dataset_body(api.dataset, trainer))
        return "created"
    changes: dict[str, Any] = {}
    wanted = {**current.get("trainer", {}), **trainer}
    if wanted != current.get("trainer"):
        changes["trainer"] = wanted
    have = {m["name"] for m in current.get("metadata_properties") or []}
    if any(m["name"] not in have for m in METADATA_PROPERTIES):
        changes["metadata_properties"] = [*(current.get("metadata_properties") or []),
                                          *(m for m in METADATA_PROPERTIES if m["name"] not in have)]
    if changes:
        api.patch_dataset(changes)
        return f"exists ({', '.join(changes)} updated)"
    return "exists"


def import_records(client: Any, rows: list[dict[str, Any]], *, dataset: str, source: str) -> int:
    """Log rows (``id``, ``text``) through the SDK; the IMDb id is the external id (no duplicates on re-run)."""
    records = [{"external_id": str(row["id"]), "fields": {"text": row["text"]}, "metadata": {"source": source}}
               for row in rows]
    result = client.log(records, dataset=dataset, batch_size=500, progress=False)
    if result.rejected:
        raise RuntimeError(f"ingest rejected {len(result.rejected)} records, first: {result.rejected[0]}")
    return int(result.accepted)


def wait_stored(api: DemoApi, external_ids: set[str], *, timeout_s: float) -> str:
    """Until annotate stored every one of ``external_ids`` (they travel ingest → Kafka → annotate)."""
    def probe() -> tuple[bool, str]:
        stored = {str(r.get("external_id")) for r in api.all_records()}
        missing = len(external_ids - stored)
        return missing == 0, f"{len(external_ids) - missing}/{len(external_ids)} stored"

    return str(wait_for(f"{len(external_ids)} records in annotate", probe, timeout_s=timeout_s, interval_s=1.0))

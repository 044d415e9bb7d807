"""The run command end to end: `claystream-dev up --detach` on free ports in a temporary state folder,
every service ready, a record POSTed to ingest stored by annotate within a second, `down` leaves no process.

Works whether ingest is the thin version (no auth) or the full one (API key + dataset): the key and the
dataset are written straight into MongoDB first, as annotate's admin side would.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from claystream_common.apikeys import generate_api_key
from claystream_common.datasets import DatasetSpec
from claystream_devstack.processes import pid_alive
from pymongo import AsyncMongoClient

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("annotate", "ingest", "trainer", "monitor")
WORKSPACE, DATASET = "e2e", "reviews"


def _devstack(state_dir: Path, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLAYSTREAM_")}
    env.update({"CLAYSTREAM_DEV_FREE_PORTS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    return subprocess.run(
        [sys.executable, "-m", "claystream_devstack", "--state-dir", str(state_dir), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        check=False,
        text=True,
        timeout=timeout,
    )


def _pids(state_dir: Path) -> dict[str, int]:
    return {path.stem: int(path.read_text().strip()) for path in (state_dir / "pids").glob("*.pid")}


async def _seed_workspace(mongo_url: str) -> str:
    """An API key and a dataset, as annotate would store them; returns the key's plaintext."""
    key = generate_api_key()
    spec = DatasetSpec(
        id=str(uuid.uuid4()),
        workspace=WORKSPACE,
        name=DATASET,
        fields=[{"name": "text"}],
        questions=[{"name": "sentiment", "type": "label", "labels": ["pos", "neg"]}],
    )
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        db = client["claystream"]
        now = datetime.now(UTC)
        await db["api_keys"].insert_one(
            {"_id": key.key_id, "workspace": WORKSPACE, "name": "e2e", "role": "admin",
             "secret_sha256": key.secret_sha256, "created_at": now, "revoked": False}
        )
        document = spec.model_dump(mode="json")
        document["_id"] = document.pop("id")
        await db["datasets"].insert_one({**document, "created_at": now, "updated_at": now})
    finally:
        await client.close()
    return key.plaintext


async def _wait_for_record(mongo_url: str, record_id: str, *, timeout_s: float) -> dict[str, Any] | None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_url, tz_aware=True)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            document = await client["claystream"]["records"].find_one({"_id": record_id})
            if document is not None or time.monotonic() > deadline:
                return document
            await asyncio.sleep(0.02)
    finally:
        await client.close()


def test_up_serves_a_record_end_to_end_and_down_leaves_nothing(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    pids: dict[str, int] = {}
    try:
        up = _devstack(state_dir, "up", "--detach", "--no-demo", timeout=300)
        assert up.returncode == 0, f"up failed:\n{up.stdout}\n{up.stderr}"
        pids = _pids(state_dir)
        assert {"kafka", "mongo", "redis", *SERVICES} <= set(pids), pids
        stack = json.loads((state_dir / "stack.json").read_text())
        ports = json.loads((state_dir / "services.json").read_text())
        assert ports["annotate"] != 8000 or ports["ingest"] != 8001, "free ports were asked for"

        for service in SERVICES:
            ready = httpx.get(f"http://127.0.0.1:{ports[service]}/readyz", timeout=5)
            assert ready.status_code == 200, (service, ready.text)
            assert ready.json()["status"] == "ready"
            assert set(ready.json()["checks"].values()) == {"ok"}

        mongo_url = f"mongodb://127.0.0.1:{stack['mongo']}"
        api_key = asyncio.run(_seed_workspace(mongo_url))
        external_id = f"e2e-{uuid.uuid4().hex[:8]}"
        posted = httpx.post(
            f"http://127.0.0.1:{ports['ingest']}/api/v1/datasets/{DATASET}/records:bulk",
            json={"items": [{"external_id": external_id, "fields": {"text": "A quietly great film."}}]},
            headers={"X-API-Key": api_key},
            timeout=10,
        )
        assert posted.status_code == 202, posted.text
        (record_id,) = posted.json()["record_ids"]
        accepted_at = time.monotonic()
        stored = asyncio.run(_wait_for_record(mongo_url, record_id, timeout_s=10))
        elapsed = time.monotonic() - accepted_at
        assert stored is not None, "annotate never stored the record"
        assert stored["fields"] == {"text": "A quietly great film."}
        assert stored["external_id"] == external_id and stored["dataset"] == DATASET
        assert elapsed < 1.0, f"the record took {elapsed:.2f}s to reach annotate's store"
    finally:
        down = _devstack(state_dir, "down", timeout=120)
    assert down.returncode == 0, f"down failed:\n{down.stdout}\n{down.stderr}"
    deadline = time.monotonic() + 10
    while any(pid_alive(pid) for pid in pids.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [name for name, pid in pids.items() if pid_alive(pid)], "processes left behind"
    assert not list((state_dir / "pids").glob("*.pid")), "pid files left behind"

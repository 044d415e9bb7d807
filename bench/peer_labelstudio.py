"""Claystream next to Label Studio, in one run, on the same IMDb reviews (the peer is optional).

Claystream: ``bench/ingest.py`` (records stored end to end) and ``bench/annotate.py`` (submit + next p95)
run as subprocesses; their last JSON lines give ``records_per_s`` and ``submit_next_p95_ms``.

Label Studio (when a virtualenv holding it is given with ``--label-studio-venv`` or
``CLAYSTREAM_LABEL_STUDIO_VENV``, e.g. ``python3.11 -m venv $V && $V/bin/pip install label-studio==1.23.2``):
this bench starts ``label-studio start`` on a free loopback port with its own data folder under a
temporary directory (SQLite, analytics off), creates a project with the same sentiment question, imports
the same reviews in one request and waits until the project counts them all (stored/s), then
``--annotators`` concurrent annotators submit ``--submits`` annotations (POST /api/tasks/{id}/annotations;
p95 ms); the server is stopped by the PID it was started with.  Without Label Studio the peer part is
skipped and said so; the ratios are then null.

    .venv/bin/python bench/peer_labelstudio.py [--records 49990] [--label-studio-venv PATH]

Last line: ``{"records_per_s": ..., "submit_next_p95_ms": ..., "label_studio_records_per_s": ...,
"label_studio_submit_p95_ms": ..., "label_studio_submit_errors": ..., "stored_ratio_vs_label_studio": ..., "submit_p95_ratio_vs_label_studio": ...}``
(stored ratio > 1: Claystream stores faster; submit ratio < 1: Claystream answers faster).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from claystream.datasets_local import read_jsonl_gz, shared_data_dir
from claystream_devstack.processes import free_port

ROOT = Path(__file__).resolve().parents[1]
LABEL_CONFIG = ('<View><Text name="text" value="$text"/><Choices name="sentiment" toName="text">'
                '<Choice value="positive"/><Choice value="negative"/></Choices></View>')


def last_json(command: list[str]) -> dict[str, Any]:
    """Run one of our benches; echo its lines; return its last line (one JSON object)."""
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    lines = completed.stdout.strip().splitlines()
    for line in lines[:-1]:
        print(f"  | {line}")
    if completed.returncode != 0 or not lines:
        print(f"MISS: {' '.join(command)} failed ({completed.returncode}): {completed.stderr[-500:]}")
        return {}
    return json.loads(lines[-1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def find_label_studio(venv: str | None) -> Path | None:
    if not venv:
        return None
    binary = Path(venv) / "bin" / "label-studio"
    return binary if binary.exists() else None


class LabelStudio:
    """One Label Studio server in a scratch folder, started and stopped by its own PID."""

    def __init__(self, binary: Path, scratch: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(20)
        self._binary, self._scratch = binary, scratch
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 300) -> None:
        env = {**os.environ, "HOME": str(self._scratch / "home"), "LABEL_STUDIO_BASE_DATA_DIR": str(self._scratch / "data"),
               "LABEL_STUDIO_LATEST_VERSION_CHECK": "false", "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
               "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true", "SENTRY_DSN": "", "FRONTEND_SENTRY_DSN": "",
               "DJANGO_DEBUG": "false", "LOG_LEVEL": "WARNING"}
        (self._scratch / "home").mkdir(parents=True, exist_ok=True)
        log = (self._scratch / "label-studio.log").open("wb")
        self._process = subprocess.Popen(
            [str(self._binary), "start", "--no-browser", "--port", str(self.port), "--internal-host", "127.0.0.1",
             "--data-dir", str(self._scratch / "data"), "--username", "bench@example.com", "--password", secrets.token_hex(8),
             "--user-token", self.token, "--enable-legacy-api-token", "--log-level", "WARNING"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self._scratch, env=env,
            start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"label-studio exited ({self._process.returncode}); see {self._scratch}/label-studio.log")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise RuntimeError("label-studio did not become healthy")

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        os.killpg(self._process.pid, signal.SIGTERM)  # its own session: the server and its workers, nothing else
        try:
            self._process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(10)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Token {self.token}"}, timeout=1800)


def measure_label_studio(server: LabelStudio, texts: list[str], *, submits: int, annotators: int,
                         figures: dict[str, float]) -> None:
    """Fills ``figures`` as it goes: a failure in the submit part keeps the stored figure already measured."""
    with server.client() as client:
        project = client.post("/api/projects", json={"title": "imdb", "label_config": LABEL_CONFIG})
        project.raise_for_status()
        project_id = project.json()["id"]
        began = time.perf_counter()
        client.post(f"/api/projects/{project_id}/import", json=[{"text": t} for t in texts]).raise_for_status()
        while (client.get(f"/api/projects/{project_id}").json().get("task_number") or 0) < len(texts):
            time.sleep(0.5)
        figures["records_per_s"] = len(texts) / (time.perf_counter() - began)
        print(f"Label Studio stored {len(texts)} reviews: {figures['records_per_s']:,.0f}/s")
        page = client.get("/api/tasks", params={"project": project_id, "page": 1, "page_size": submits})
        page.raise_for_status()
        body = page.json()
        task_ids = [t["id"] for t in (body.get("tasks", []) if isinstance(body, dict) else body)][:submits]
    durations, errors = asyncio.run(_submit_all(server, task_ids, annotators))
    figures["submit_errors"] = float(errors)
    if not durations:
        raise RuntimeError(f"every Label Studio submit failed ({errors})")
    figures["submit_p95_ms"] = percentile(durations, 0.95)
    print(f"Label Studio: {len(durations)} submits by {annotators} concurrent annotators: "
          f"p50 {percentile(durations, 0.5):.0f} ms, p95 {figures['submit_p95_ms']:.0f} ms, errors {errors}"
          + (" (its server answered 5xx under the concurrent submits; their times are left out)" if errors else ""))


async def _submit_all(server: LabelStudio, task_ids: list[int], annotators: int) -> tuple[list[float], int]:
    """The submits' times (successful ones) and how many failed: a peer's error is a figure, not a crash."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for task_id in task_ids:
        queue.put_nowait(task_id)
    durations: list[float] = []
    errors = 0

    async def annotator(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while not queue.empty():
            task_id = queue.get_nowait()
            result = [{"from_name": "sentiment", "to_name": "text", "type": "choices",
                       "value": {"choices": ["positive" if task_id % 2 else "negative"]}}]
            began = time.perf_counter()
            answer = await client.post(f"/api/tasks/{task_id}/annotations", json={"result": result})
            if answer.status_code >= 500:
                errors += 1
                continue
            answer.raise_for_status()
            durations.append((time.perf_counter() - began) * 1000)

    async with httpx.AsyncClient(base_url=server.url, headers={"Authorization": f"Token {server.token}"},
                                 timeout=120) as client:
        await asyncio.gather(*(annotator(client) for _ in range(annotators)))
    return durations, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=49_990)
    parser.add_argument("--submits", type=int, default=200)
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--annotate-records", type=int, default=20_000, help="records bench/annotate.py loads")
    parser.add_argument("--label-studio-venv", default=os.environ.get("CLAYSTREAM_LABEL_STUDIO_VENV"))
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load}: compare the ratios of one run, not figures across runs")

    binary = find_label_studio(args.label_studio_venv)
    if binary is None:
        print("Label Studio not found (give --label-studio-venv or CLAYSTREAM_LABEL_STUDIO_VENV: a virtualenv with "
              "label-studio installed): the peer part is skipped, the ratios are null")
    print(f"Claystream: bench/ingest.py --records {args.records}")
    ingest = last_json([sys.executable, "bench/ingest.py", "--records", str(args.records), "--predictions", "0"])
    print(f"Claystream: bench/annotate.py --records {args.annotate_records} --annotators {args.annotators}")
    annotate = last_json([sys.executable, "bench/annotate.py", "--records", str(args.annotate_records),
                          "--export-records", "1000", "--annotators", str(args.annotators)])
    ours = {"records_per_s": ingest.get("records_per_s"), "submit_next_p95_ms": annotate.get("submit_next_p95_ms")}
    peer: dict[str, float] = {}
    if binary is not None:
        texts = [row["text"] for row in read_jsonl_gz(shared_data_dir() / "imdb" / "unsup.jsonl.gz")[: args.records]]
        scratch = Path(tempfile.mkdtemp(prefix="claystream-peer-ls-"))
        server = LabelStudio(binary, scratch)
        try:
            server.start()
            measure_label_studio(server, texts, submits=args.submits, annotators=args.annotators, figures=peer)
        except Exception as error:  # noqa: BLE001 - the peer failing must not hide our figures
            print(f"MISS: Label Studio run failed: {error!r}")
        finally:
            server.stop()
            shutil.rmtree(scratch, ignore_errors=True)

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a and b else None

    def rounded(value: float | None) -> float | None:
        return round(value, 1) if value is not None else None

    result = {**ours, "label_studio_records_per_s": rounded(peer.get("records_per_s")),
              "label_studio_submit_p95_ms": rounded(peer.get("submit_p95_ms")),
              "label_studio_submit_errors": int(peer["submit_errors"]) if "submit_errors" in peer else None,
              "stored_ratio_vs_label_studio": ratio(ours["records_per_s"], peer.get("records_per_s")),
              "submit_p95_ratio_vs_label_studio": ratio(ours["submit_next_p95_ms"], peer.get("submit_p95_ms"))}
    if result["stored_ratio_vs_label_studio"] is not None:
        verdict = "ok" if result["stored_ratio_vs_label_studio"] >= 1.0 else "MISS"
        print(f"{verdict}: stored_ratio_vs_label_studio {result['stored_ratio_vs_label_studio']} (goal >= 1.0)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()

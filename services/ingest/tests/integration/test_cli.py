"""The claystream CLI against the real service: keys create, then import a file."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from typer.testing import CliRunner

from claystream.cli import app
from ingest_stack import RunningIngest

runner = CliRunner()


def test_keys_create_prints_a_working_key_once(ingest_server: RunningIngest) -> None:
    result = runner.invoke(app, ["keys", "create", "--workspace", ingest_server.workspace, "--name", "cli",
                                 "--mongo-url", ingest_server.mongo_url, "--mongo-db", ingest_server.settings.mongo_db])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[0]
    me = httpx.get(f"{ingest_server.url}/api/v1/me", headers={"X-API-Key": key})
    assert me.json()["workspace"] == ingest_server.workspace and me.json()["role"] == "annotator"
    stored = ingest_server.db()["api_keys"].find_one({"_id": me.json()["key_id"]})
    assert stored is not None and key.split("_")[-1] not in json.dumps(stored, default=str)


def test_import_logs_a_file_and_maps_422s_to_file_lines(ingest_server: RunningIngest, tmp_path: Path) -> None:
    good = tmp_path / "reviews.jsonl"
    good.write_text("".join(json.dumps({"id": f"c{i}", "review": f"text {i}"}) + "\n" for i in range(5)))
    env = {"CLAYSTREAM_URL": ingest_server.url, "CLAYSTREAM_API_KEY": ingest_server.api_key}
    result = runner.invoke(app, ["import", str(good), "--dataset", ingest_server.dataset, "--map", "text=review"], env=env)
    assert result.exit_code == 0, result.output
    assert f"accepted 5 records into {ingest_server.dataset}" in result.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text("id,review\nd1,fine\nd2,\nd3,ok\n")
    result = runner.invoke(app, ["import", str(bad), "-d", ingest_server.dataset, "--map", "text=review"], env=env)
    assert result.exit_code == 1
    assert f"{bad}:3 (line): fields.text: required field is empty" in result.output
    result = runner.invoke(app, ["import", str(bad), "-d", ingest_server.dataset, "--map", "text=review", "--partial"], env=env)
    assert result.exit_code == 0 and "accepted 2 records" in result.stdout

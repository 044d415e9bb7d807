"""Client.log / log_prediction(s) / log_feedback, and the ``claystream`` CLI (import, export, keys),
against the real ingest and annotate services."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from claystream_common.datasets import record_id_for
from datasets import Dataset as HFDataset
from typer.testing import CliRunner

from claystream import Client, Filter, LabelQuestion, Settings, TermsMetadataProperty, TextField, ValidationFailed
from claystream.cli import app

runner = CliRunner()


def make_dataset(client: Client) -> Any:
    settings = Settings(fields=[TextField("text")], questions=[LabelQuestion("sentiment", ["pos", "neg"])],
                        metadata=[TermsMetadataProperty("genre")])
    return client.datasets.create(f"c{uuid.uuid4().hex[:8]}", settings=settings)


def test_log_sends_batches_of_the_server_limit_with_ids_in_input_order(client: Client, services: SimpleNamespace) -> None:
    dataset = make_dataset(client)
    result = client.log([{"id": i, "text": f"t{i}"} for i in range(2500)], dataset.name, progress=False, concurrency=3)
    assert result.accepted == 2500
    assert result.ids == [record_id_for(services.workspace, dataset.name, str(i)) for i in range(2500)]
    assert dataset.records.wait_stored(2500) == 2500
    assert client.workspace == services.workspace


def test_dataframes_and_hf_datasets_map_columns(client: Client) -> None:
    dataset = make_dataset(client)
    frame = pd.DataFrame({"review": ["a", "b"], "genre": ["drama", "comedy"], "id": ["x", "y"]})
    client.log(frame, dataset.name, fields={"text": "review"}, metadata=["genre"], progress=False)
    client.log(HFDataset.from_dict({"text": ["c"], "id": [7]}), dataset.name, progress=False)
    dataset.records.wait_stored(3)
    stored = {r["external_id"]: (r["fields"], r["metadata"]) for r in dataset.records()}
    assert stored == {"x": ({"text": "a"}, {"genre": "drama"}), "y": ({"text": "b"}, {"genre": "comedy"}), "7": ({"text": "c"}, {})}


def test_a_rejected_batch_reports_indexes_over_the_whole_call(client: Client) -> None:
    dataset = make_dataset(client)
    rows = [{"id": i, "text": "x"} for i in range(4)]
    rows[3]["text"] = ""
    with pytest.raises(ValidationFailed) as caught:
        client.log(rows, dataset.name, batch_size=2, concurrency=1, progress=False)
    assert [(e["index"], e["field"]) for e in caught.value.errors] == [(3, "fields.text")]
    assert caught.value.accepted_before == 2
    partial = client.log(rows, dataset.name, batch_size=2, partial=True, progress=False)
    assert partial.accepted == 3 and [r["index"] for r in partial.rejected] == [3]


def test_predictions_and_feedback_are_accepted(client: Client) -> None:
    assert client.log_prediction("q1", model="m", text="t", predicted_label="positive", scores={"positive": 1.0})
    assert client.log_feedback("q1", signal="thumbs_down")
    many = client.log_predictions([{"request_id": f"q{i}", "model": "m", "text": "t", "predicted_label": "p"} for i in range(5)], batch_size=2)
    assert many.accepted == 5 and len(set(many.ids)) == 5
    assert client.log_feedbacks([{"request_id": "q2", "true_label": "p"}]).accepted == 1


def cli_env(services: SimpleNamespace) -> dict[str, str]:
    return {"CLAYSTREAM_URL": services.ingest, "CLAYSTREAM_API_KEY": services.api_key, "CLAYSTREAM_ANNOTATE_URL": services.annotate}


def test_cli_import_then_export_with_response_status(client: Client, services: SimpleNamespace, tmp_path: Path, poll: Any,
                                                     make_annotator: Any) -> None:
    dataset = make_dataset(client)
    source = tmp_path / "reviews.csv"
    source.write_text("id,review,genre\n" + "".join(f"{i},review {i},{'drama' if i % 2 else 'comedy'}\n" for i in range(20)))
    imported = runner.invoke(app, ["import", str(source), "-d", dataset.name, "--map", "text=review", "--metadata", "genre"],
                             env=cli_env(services))
    assert imported.exit_code == 0, imported.output
    assert f"accepted 20 records into {dataset.name}" in imported.stdout
    dataset.records.wait_stored(20)
    annotator = make_annotator()
    ids = {r["external_id"]: r["id"] for r in dataset.records()}
    answers = [{"record_id": ids[str(i)], "user": annotator, "values": {"sentiment": "pos"}} for i in range(5)]
    client.annotate_call("POST", f"{dataset.path}/responses:import", body={"items": answers})
    submitted = Filter(("response.status", "==", "submitted"))
    poll(lambda: sum(1 for _ in dataset.records(filter=submitted)) == 5, what="answers applied")
    for status, expected in (("submitted", 5), ("pending", 15)):
        out = tmp_path / f"{status}.jsonl"
        exported = runner.invoke(app, ["export", "-d", dataset.name, "-o", str(out), "--response-status", status], env=cli_env(services))
        assert exported.exit_code == 0, exported.output
        lines = [json.loads(line) for line in out.read_text().splitlines()]
        assert len(lines) == expected
        assert all(bool(line["responses"]) == (status == "submitted") for line in lines)
    csv_out = tmp_path / "all.csv"
    assert runner.invoke(app, ["export", "-d", dataset.name, "--format", "csv", "-o", str(csv_out)], env=cli_env(services)).exit_code == 0
    assert len(pd.read_csv(csv_out)) == 20
    # an export imported again: the records come back, the answers cannot (ingest carries none), and it says so
    copy = make_dataset(client)
    again = runner.invoke(app, ["import", str(tmp_path / "submitted.jsonl"), "-d", copy.name], env=cli_env(services))
    assert again.exit_code == 0 and f"accepted 5 records into {copy.name}" in again.stdout, again.output
    assert "note: 5 rows carry responses, which this command does not import" in again.stderr
    copy.records.wait_stored(5)
    assert sorted(r["fields"]["text"] for r in copy.records()) == sorted(f"review {i}" for i in range(5))
    # the CSV export names its answers' column responses_json
    csv_copy = make_dataset(client)
    again = runner.invoke(app, ["import", str(csv_out), "-d", csv_copy.name, "--map", "text=field.text"], env=cli_env(services))
    assert again.exit_code == 0 and "note: 5 rows carry responses" in again.stderr, again.output


def test_cli_reports_service_errors(client: Client, services: SimpleNamespace, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "-d", "nope", "-o", str(tmp_path / "x.jsonl")], env=cli_env(services))
    assert result.exit_code == 1 and "-> 404" in result.output
    bad = tmp_path / "r.csv"
    bad.write_text("id,text\n1,\n")
    result = runner.invoke(app, ["import", str(bad), "-d", "nope"], env=cli_env(services))
    assert result.exit_code == 1 and "nope" in result.output
    name = make_dataset(client).name
    result = runner.invoke(app, ["export", "-d", name, "--response-status", "maybe", "-o", str(tmp_path / "y.jsonl")], env=cli_env(services))
    assert result.exit_code == 1 and "response_status" in result.output
    nowhere = tmp_path / "no-such-folder" / "z.jsonl"  # an output that cannot be written: a message, not a traceback
    result = runner.invoke(app, ["export", "-d", name, "-o", str(nowhere)], env=cli_env(services))
    assert result.exit_code == 1 and f"cannot write {nowhere}" in result.output


def test_cli_keys_create_makes_a_key_the_services_accept(services: SimpleNamespace) -> None:
    made = runner.invoke(app, ["keys", "create", "--workspace", services.workspace, "--name", "ci", "--mongo-url", services.mongo_url,
                               "--mongo-db", services.db])
    assert made.exit_code == 0, made.output
    with Client(services.ingest, made.stdout.strip(), annotate_url=services.annotate) as annotator_key:
        assert annotator_key.workspace == services.workspace
        assert annotator_key.limits("annotate")["records_page_max"] >= 1
    refused = runner.invoke(app, ["keys", "create", "--workspace", "Bad Name", "--name", "x", "--mongo-url", services.mongo_url])
    assert refused.exit_code == 2

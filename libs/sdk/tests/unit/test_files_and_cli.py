"""Reading CSV / JSONL / Parquet with locations, and the CLI's helpful errors (no server needed)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from claystream.cli import app
from claystream.files import FileFormatError, read_rows
from claystream.keys import new_key_document
from claystream_common.apikeys import parse_api_key, secret_matches

runner = CliRunner()


def test_jsonl_csv_and_parquet_rows_carry_their_line_or_row(tmp_path: Path) -> None:
    jsonl = tmp_path / "a.jsonl.gz"
    with gzip.open(jsonl, "wt") as handle:
        handle.write('{"id": 1, "review": "a"}\n\n{"id": 2, "review": "b"}\n')
    csv = tmp_path / "a.csv"
    csv.write_text('id,review\n1,"multi\nline"\n2,b\n')
    parquet = tmp_path / "a.parquet"
    pd.DataFrame({"id": [1, 2], "review": ["a", "b"]}).to_parquet(parquet)
    assert list(read_rows(jsonl)) == [(1, {"id": 1, "review": "a"}), (3, {"id": 2, "review": "b"})]
    assert list(read_rows(csv)) == [(2, {"id": "1", "review": "multi\nline"}), (4, {"id": "2", "review": "b"})]
    assert list(read_rows(parquet)) == [(1, {"id": 1, "review": "a"}), (2, {"id": 2, "review": "b"})]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.jsonl", '{"id": 1}\n{"id": 2,, }\n', "bad.jsonl:2:10: invalid JSON: Expecting property name"),
        ("bad.jsonl", '{"id": 1}\n[1, 2]\n', "bad.jsonl:2: expected a JSON object per line, got list"),
        ("bad.csv", "id,review\n1,a\n2,b,c\n", "bad.csv:3: 3 values for 2 columns (id, review)"),
        ("bad.csv", "id,id\n1,2\n", "bad.csv:1: column 'id' appears twice in the header"),
        ("bad.txt", "x", "bad.txt: cannot tell the format from the name"),
    ],
)
def test_bad_files_are_located(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(FileFormatError) as caught:
        list(read_rows(path))
    assert message in str(caught.value)


def test_import_reports_the_line_of_a_bad_file_before_sending_anything(tmp_path: Path) -> None:
    path = tmp_path / "reviews.jsonl"
    path.write_text('{"id": 1, "review": "a"}\n{"id": 2 "review": "b"}\n')
    result = runner.invoke(app, ["import", str(path), "--dataset", "reviews", "--api-key", "cs_x", "--map", "text=review",
                                 "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert f"{path}:2:10: invalid JSON" in result.output


def test_import_names_a_missing_mapped_column(tmp_path: Path) -> None:
    path = tmp_path / "reviews.csv"
    path.write_text("id,body\n1,a\n")
    result = runner.invoke(app, ["import", str(path), "-d", "reviews", "--api-key", "cs_x", "--map", "text=review",
                                 "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1
    assert f"{path}:2: column 'review' not found (columns: id, body)" in result.output


def test_key_documents_match_the_shared_api_key_contract() -> None:
    document, plaintext = new_key_document("acme", "backend", "annotator")
    parsed = parse_api_key(plaintext)
    assert parsed is not None and parsed[0] == document["_id"]
    assert secret_matches(parsed[1], str(document["secret_sha256"]))
    assert {k: document[k] for k in ("workspace", "name", "role", "revoked")} == {
        "workspace": "acme", "name": "backend", "role": "annotator", "revoked": False}
    with pytest.raises(ValueError, match="role 'owner'"):
        new_key_document("acme", "x", "owner")
    with pytest.raises(ValueError, match="workspace 'Acme Inc'"):
        new_key_document("Acme Inc", "x", "annotator")

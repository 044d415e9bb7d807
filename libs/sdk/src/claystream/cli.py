"""``claystream`` command line: import files, export datasets, create API keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from claystream.client import Client
from claystream.errors import ApiError, ValidationFailed
from claystream.files import FORMATS, FileFormatError, detect_format, read_rows

app = typer.Typer(help="Claystream: log records into datasets, export them, manage API keys.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys (stored hashed in MongoDB).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")

UrlOption = Annotated[str, typer.Option("--url", envvar="CLAYSTREAM_URL", help="ingest service URL")]
ApiKeyOption = Annotated[str, typer.Option("--api-key", envvar="CLAYSTREAM_API_KEY", help="cs_<id>_<secret>")]
MapOption = Annotated[list[str], typer.Option("--map", help="FIELD=COLUMN, e.g. text=review (repeatable)")]
MetadataOption = Annotated[list[str], typer.Option("--metadata", help="NAME[=COLUMN] (repeatable)")]
AnnotateUrlOption = Annotated[str, typer.Option(envvar="CLAYSTREAM_ANNOTATE_URL", help="annotate service URL")]


def _pairs(values: list[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, column = value.partition("=")
        if not name:
            raise typer.BadParameter(f"{value!r}: expected NAME=COLUMN", param_hint=option)
        out[name] = column if sep else name
    return out


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code)


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="CSV, JSONL (optionally .gz) or Parquet file")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="target dataset in the key's workspace")],
    api_key: ApiKeyOption,
    url: UrlOption = "http://127.0.0.1:8001",
    field_map: MapOption = [],  # noqa: B006 - typer reads the default, never mutates it
    metadata: MetadataOption = [],  # noqa: B006
    id_column: Annotated[str, typer.Option(help="column holding your record id (external_id)")] = "id",
    fmt: Annotated[str | None, typer.Option("--format", help="csv, jsonl or parquet (default: from the name)")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="default: the server's limit per request")] = None,
    partial: Annotated[bool, typer.Option(help="skip invalid rows instead of stopping")] = False,
) -> None:
    """Log every row of FILE into DATASET (re-running is safe: ids come from the id column)."""
    try:
        fmt = fmt or detect_format(file)
        lines: list[int] = []
        answered = 0  # rows carrying responses (an export of this CLI): records go through ingest, answers do not
        mapping = _pairs(field_map, "--map")
        needed = set(mapping.values()) | set(_pairs(metadata, "--metadata").values())

        def rows() -> Any:
            for line, row in read_rows(file, fmt):
                absent = sorted(column for column in needed if column not in row)
                if absent:
                    raise FileFormatError(
                        f"{file}:{line}: column {absent[0]!r} not found (columns: {', '.join(map(str, row))})"
                    )
                lines.append(line)
                yield row

        for row in rows():  # the whole file is checked before anything is sent
            answered += bool(row.get("responses")) or str(row.get("responses_json") or "[]").strip() not in ("", "[]")
        lines.clear()

        where = "row" if fmt == "parquet" else "line"
        with Client(url, api_key) as client:
            result = client.log(rows(), dataset, fields=mapping or None,
                                metadata=_pairs(metadata, "--metadata") or None, id_column=id_column,
                                batch_size=batch_size, partial=partial, progress=True)
    except FileFormatError as error:
        raise _fail(f"error: {error}") from None
    except ValidationFailed as error:
        typer.secho(f"error: {error.body.get('detail')}", fg=typer.colors.RED, err=True)
        for item in error.errors[:50]:
            index = item.get("index")
            place = f"{file}:{lines[index]}" if isinstance(index, int) and index < len(lines) else str(file)
            typer.secho(f"  {place} ({where}): {item.get('field')}: {item.get('reason')}", err=True)
        if error.accepted_before:
            typer.echo(f"{error.accepted_before} records before the bad batch were accepted", err=True)
        raise typer.Exit(1) from None
    except ApiError as error:
        raise _fail(f"error: {error}") from None
    for item in result.rejected[:50]:
        index = item.get("index")
        place = f"{file}:{lines[index]}" if isinstance(index, int) and index < len(lines) else str(file)
        typer.secho(f"  rejected {place}: {item.get('field')}: {item.get('reason')}", fg=typer.colors.YELLOW, err=True)
    problems = f" ({len(result.rejected)} problems)" if result.rejected else ""
    typer.echo(f"accepted {result.accepted} records into {dataset}{problems}")
    if answered:
        typer.secho(f"note: {answered} rows carry responses, which this command does not import (it logs records through "
                    "ingest, like a production backend); to copy a dataset with its answers use the SDK: "
                    "dataset.to_disk(folder) and client.datasets.from_disk(folder, name=...)", fg=typer.colors.YELLOW, err=True)


@app.command("export")
def export(
    dataset: Annotated[str, typer.Option("--dataset", "-d")],
    api_key: ApiKeyOption,
    annotate_url: AnnotateUrlOption = "http://127.0.0.1:8000",
    url: UrlOption = "http://127.0.0.1:8001",
    workspace: Annotated[str | None, typer.Option(help="default: the key's workspace")] = None,
    fmt: Annotated[str, typer.Option("--format", help="jsonl, csv or parquet")] = "jsonl",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="default: DATASET.FORMAT")] = None,
    response_status: Annotated[str | None, typer.Option(help="submitted, pending, draft or discarded")] = None,
) -> None:
    """Download a dataset with its responses and suggestions from the annotate service."""
    if fmt not in FORMATS:
        raise _fail(f"error: --format must be one of {', '.join(FORMATS)}", 2)
    output = output or Path(f"{dataset}.{fmt}")
    try:
        if workspace is None:
            with Client(url, api_key) as client:
                workspace = client.workspace
        params = {"format": fmt, **({"response_status": response_status} if response_status else {})}
        target = f"{annotate_url.rstrip('/')}/api/v1/workspaces/{workspace}/datasets/{dataset}/export"
        with httpx.stream("GET", target, params=params, headers={"X-API-Key": api_key}, timeout=300) as response:
            if response.status_code >= 400:
                response.read()
                raise _fail(f"error: GET {target} -> {response.status_code}: {response.text[:500]}")
            size = 0
            with output.open("wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
                    size += len(chunk)
    except ApiError as error:
        raise _fail(f"error: {error}") from None
    except httpx.HTTPError as error:
        raise _fail(f"error: cannot reach {annotate_url}: {error!r}") from None
    except OSError as error:  # the output cannot be written (no such folder, no permission, disk full)
        raise _fail(f"error: cannot write {output}: {error.strerror or error}") from None
    typer.echo(f"wrote {output} ({size} bytes)")


@keys_app.command("create")
def keys_create(
    workspace: Annotated[str, typer.Option(help="workspace the key may write to")],
    name: Annotated[str, typer.Option(help="a label for the key, e.g. the backend using it")],
    role: Annotated[str, typer.Option(help="annotator or admin (both may log records)")] = "annotator",
    mongo_url: Annotated[str, typer.Option(envvar="CLAYSTREAM_MONGO_URL")] = "mongodb://127.0.0.1:27017",
    mongo_db: Annotated[str, typer.Option(envvar="CLAYSTREAM_MONGO_DB")] = "claystream",
) -> None:
    """Create an API key; the plaintext is printed once and never stored."""
    from claystream.keys import create_api_key

    try:
        created = create_api_key(mongo_url, workspace=workspace, name=name, role=role, db=mongo_db)
    except ValueError as error:
        raise _fail(f"error: {error}", 2) from None
    except Exception as error:  # noqa: BLE001 - pymongo errors: say where we tried
        raise _fail(f"error: cannot write to MongoDB at {mongo_url}: {error}") from None
    typer.echo(created.plaintext)
    typer.secho(f"key {created.key_id} ({created.role}) for workspace {created.workspace}: store it now, "
                "it is not shown again", fg=typer.colors.YELLOW, err=True)


def main() -> None:
    app()

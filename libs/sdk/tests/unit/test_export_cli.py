"""`claystream export` against a stand-in annotate export endpoint (a local HTTP server)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claystream.cli import app

EXPORT = b'{"id": "r1", "text": "great"}\n{"id": "r2", "text": "awful"}\n'


class Annotate(BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        Annotate.seen.append((self.path, self.headers.get("X-API-Key")))
        if self.path.startswith("/api/v1/workspaces/acme/datasets/reviews/export?format=jsonl"):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(EXPORT)
        else:
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b'{"detail": "dataset not found"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def annotate_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Annotate)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_export_streams_the_file(annotate_url: str, tmp_path: Path) -> None:
    out = tmp_path / "reviews.jsonl"
    result = CliRunner().invoke(app, ["export", "-d", "reviews", "--workspace", "acme", "--api-key", "cs_k",
                                      "--annotate-url", annotate_url, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes() == EXPORT and f"wrote {out} ({len(EXPORT)} bytes)" in result.stdout
    assert Annotate.seen[-1] == ("/api/v1/workspaces/acme/datasets/reviews/export?format=jsonl", "cs_k")


def test_export_reports_the_service_error(annotate_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["export", "-d", "nope", "--workspace", "acme", "--api-key", "cs_k",
                                      "--annotate-url", annotate_url, "-o", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 1
    assert "-> 404: {\"detail\": \"dataset not found\"}" in result.output

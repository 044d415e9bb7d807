"""A service stopped the way deployments stop it (SIGTERM) still exports the spans it held.

Spans leave a service through OpenTelemetry's batch processor, which sends what it queued every few seconds.
uvicorn, once its graceful shutdown is done, raises the SIGTERM it caught again, so the process ends by the
signal and Python's exit hooks (where the SDK would flush) never run: without an explicit flush in the
lifespan, the last seconds of every trace were lost at each deploy or restart.  Here the batch delay is a
minute, so only the flush at shutdown can deliver the span of the request made just before the stop.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from claystream_devstack.processes import free_port, read_pid
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


class Collector:
    """An OTLP/HTTP trace receiver: the names of the spans each service sent, keyed by service.name."""

    def __init__(self) -> None:
        self.spans: dict[str, list[str]] = {}
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    service = next((a.value.string_value for a in resource_spans.resource.attributes
                                    if a.key == "service.name"), "?")
                    names = collector.spans.setdefault(service, [])
                    names.extend(span.name for scope in resource_spans.scope_spans for span in scope.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="otlp-collector", daemon=True).start()


@pytest.fixture
def collector() -> Iterator[Collector]:
    receiver = Collector()
    yield receiver
    receiver.server.shutdown()


def test_a_stopped_service_exports_the_spans_it_still_held(tmp_path: Path, fault_kit: SimpleNamespace,
                                                            collector: Collector) -> None:
    env = {"CLAYSTREAM_INGEST_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "60000"}
    with fault_kit.private_system(tmp_path, ("ingest",), extra_env=env) as launcher:
        answer = httpx.get(f"{launcher.url('ingest')}/api/v1/me", timeout=10)
        assert answer.status_code == 401  # any request under /api makes a server span
        pid = read_pid(launcher.stack.state_dir, "ingest")
        assert pid is not None
        assert "GET /api/v1/me" not in collector.spans.get("ingest", [])  # still queued in the service
        launcher.stop(("ingest",))
    log = (tmp_path / "logs" / "ingest.log").read_text(errors="replace")
    assert "Application shutdown complete" in log, log[-2000:]  # a graceful stop, not the launcher's SIGKILL
    assert "GET /api/v1/me" in collector.spans.get("ingest", []), collector.spans

#!/usr/bin/env python3
"""Container health probe: GET http://127.0.0.1:<port><path>; exit 0 on HTTP 200, 1 otherwise.

Standard library only (the slim image has no curl). Usage: ``claystream-healthcheck [/healthz|/readyz]``.
The port is $PORT, else the default port of $SERVICE (as in entrypoint.sh).
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

DEFAULT_PORTS = {"annotate": 8000, "ingest": 8001, "trainer": 8002, "monitor": 8003}


def probe_url(path: str, environ: dict[str, str]) -> str:
    port = environ.get("PORT") or DEFAULT_PORTS.get(environ.get("SERVICE", ""))
    if not port:
        raise SystemExit("claystream-healthcheck: set PORT or SERVICE (annotate, ingest, trainer, monitor)")
    return f"http://127.0.0.1:{port}{path}"


def main(argv: list[str]) -> int:
    path = argv[1] if len(argv) > 1 else "/healthz"
    url = probe_url(path, dict(os.environ))
    try:
        with urllib.request.urlopen(url, timeout=float(os.environ.get("HEALTHCHECK_TIMEOUT_S", "2.5"))) as reply:
            return 0 if reply.status == 200 else 1
    except (urllib.error.URLError, OSError) as error:
        print(f"claystream-healthcheck: {url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))

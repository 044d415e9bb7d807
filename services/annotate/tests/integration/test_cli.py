"""The administration CLI against the real MongoDB-wire server."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from annotate_testing import BASE, running_annotate
from claystream_devstack.pytest_plugin import service_env


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "claystream_annotate.cli", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


async def test_create_user_and_api_key(embedded_stack) -> None:  # type: ignore[no-untyped-def]
    db = f"t{uuid.uuid4().hex[:12]}"
    env = service_env(embedded_stack, "CLAYSTREAM_ANNOTATE_", db)
    out = cli(env, "create-user", "cli-admin", "--role", "admin", "--workspace", "cli-space", "--generate")
    password = out.split("password: ")[1].strip()
    key = cli(env, "create-api-key", "--workspace", "cli-space", "--name", "cli", "--role", "admin").strip()
    assert key.startswith("cs_")
    async with running_annotate(embedded_stack, db) as annotate:
        admin = await annotate.login("cli-admin", password)
        assert (await admin.get(f"{BASE}/cli-space/datasets")).status_code == 200
        with_key = annotate.client()
        with_key.headers["X-API-Key"] = key
        assert (await with_key.get(f"{BASE}/cli-space/datasets")).status_code == 200

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


def cli_fails(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "claystream_annotate.cli", *args], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert done.returncode != 0, done.stdout
    return done.stderr


async def test_revoke_disable_set_password_end_sessions(embedded_stack) -> None:  # type: ignore[no-untyped-def]
    """Issue 17 finding 6: the account-security commands act on a running service at once."""
    db = f"t{uuid.uuid4().hex[:12]}"
    env = service_env(embedded_stack, "CLAYSTREAM_ANNOTATE_", db)
    password = cli(env, "create-user", "cli-ann", "--workspace", "cli-space", "--generate").split("password: ")[1].strip()
    key = cli(env, "create-api-key", "--workspace", "cli-space", "--name", "leaky", "--role", "annotator").strip()
    key_id = key.split("_")[1]
    async with running_annotate(embedded_stack, db, user_cache_s="0") as annotate:
        with_key = annotate.client()
        with_key.headers["X-API-Key"] = key
        assert (await with_key.get(f"{BASE}/cli-space/datasets")).status_code == 200
        assert "active" in cli(env, "list-api-keys", "--workspace", "cli-space")
        cli(env, "revoke-api-key", key_id, "--workspace", "cli-space")
        assert (await with_key.get(f"{BASE}/cli-space/datasets")).status_code == 401
        assert "revoked" in cli(env, "list-api-keys", "--workspace", "cli-space")
        assert "not found" in cli_fails(env, "revoke-api-key", "nope", "--workspace", "cli-space")

        session = await annotate.login("cli-ann", password)
        cli(env, "end-sessions", "cli-ann")
        assert (await session.get("/api/v1/me")).status_code == 401
        session = await annotate.login("cli-ann", password)
        cli(env, "disable-user", "cli-ann")
        assert (await session.get("/api/v1/me")).status_code == 401
        refused = await annotate.client().post("/api/v1/auth/login", json={"username": "cli-ann", "password": password})
        assert refused.status_code == 401
        cli(env, "enable-user", "cli-ann")
        new_password = cli(env, "set-password", "cli-ann", "--generate").split("password: ")[1].strip()
        assert (await annotate.client().post("/api/v1/auth/login", json={"username": "cli-ann", "password": password})).status_code == 401
        assert (await (await annotate.login("cli-ann", new_password)).get("/api/v1/me")).status_code == 200


async def test_two_replicas_starting_on_an_empty_database_both_start_with_one_owner(embedded_stack) -> None:  # type: ignore[no-untyped-def]
    """Both saw no owner and both inserted one: the second start failed on the username index."""
    import asyncio
    import contextlib

    from pymongo import MongoClient

    db = f"t{uuid.uuid4().hex[:12]}"
    async with contextlib.AsyncExitStack() as stack:
        first, second = await asyncio.gather(*(stack.enter_async_context(running_annotate(embedded_stack, db)) for _ in range(2)))
        assert first.owner is not second.owner
    client: MongoClient[dict[str, object]] = MongoClient(embedded_stack.ports.mongo_url)
    try:
        assert client[db]["users"].count_documents({"role": "owner"}) == 1
    finally:
        client.close()


async def test_bad_arguments_are_usage_errors_and_create_nothing(embedded_stack) -> None:  # type: ignore[no-untyped-def]
    from pymongo import MongoClient

    db = f"t{uuid.uuid4().hex[:12]}"
    env = {**os.environ, **service_env(embedded_stack, "CLAYSTREAM_ANNOTATE_", db)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "claystream_annotate.cli", *args], env=env, capture_output=True, text=True,
                              timeout=60, stdin=subprocess.DEVNULL, check=False)

    for args in (("create-user", "carol", "--role", "bogus", "--generate"), ("create-api-key", "--role", "bogus"),
                 ("create-api-key", "--workspace", "Bad Name!"),
                 ("create-user", "carol", "--workspace", "okws", "--workspace", "Bad Name!", "--generate")):
        done = run(*args)
        assert done.returncode == 2 and "Traceback" not in done.stderr, (args, done.stderr)
    client: MongoClient[dict[str, object]] = MongoClient(embedded_stack.ports.mongo_url)
    try:
        assert client[db]["workspaces"].count_documents({}) == 0 and client[db]["users"].count_documents({}) == 0
    finally:
        client.close()

"""Administration from the shell: ``python -m claystream_annotate.cli create-owner|create-user|create-api-key``,
and account security: ``list-api-keys``, ``revoke-api-key``, ``disable-user``, ``enable-user``,
``set-password`` and ``end-sessions`` (every session of a user ends at once, in every service).

Connects with the service's settings (``CLAYSTREAM_ANNOTATE_*``).  Passwords come from the
``--password`` option or are prompted (never echoed); a generated one is printed once.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer
from claystream_common.datasets import valid_name
from claystream_common.mongo import make_mongo_client, mongo_database
from claystream_common.settings import load_settings

from claystream_annotate.adapters.mongo_misc import MongoApiKeyStore
from claystream_annotate.adapters.mongo_users import MongoUserStore, MongoWorkspaceStore
from claystream_annotate.config import AnnotateSettings
from claystream_annotate.services.accounts import end_all_sessions
from claystream_annotate.services.errors import AnnotateError, NotFound
from claystream_annotate.services.ports import User
from claystream_annotate.services.principals import Role
from claystream_annotate.services.users import change_password, create_user, generate_password

app = typer.Typer(help="Claystream annotate administration", no_args_is_help=True)


def _run(work: Callable[[Any], Awaitable[None]]) -> None:
    async def main() -> None:
        settings = load_settings(AnnotateSettings)
        client = make_mongo_client(settings)
        try:
            db = mongo_database(client, settings)
            await MongoUserStore(db).ensure_indexes()
            await work(db)
        finally:
            await client.close()

    try:
        asyncio.run(main())
    except AnnotateError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None


def _password(value: str | None, generate: bool) -> tuple[str, bool]:
    if value:
        return value, False
    if generate or not sys.stdin.isatty():
        return generate_password(), True
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        typer.echo("passwords differ", err=True)
        raise typer.Exit(2)
    return first, False


def _role(value: str, allowed: tuple[Role, ...]) -> Role:
    if value not in {r.value for r in allowed}:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(r.value for r in allowed)}", param_hint="--role")
    return Role(value)


def _workspace_names(names: list[str]) -> list[str]:
    """Every name checked before anything is created (a bad one after a good one left the good one created)."""
    for name in names:
        if not valid_name(name):
            raise typer.BadParameter(f"invalid workspace name {name!r} (lower-case letters, digits, '_' and '-')",
                                     param_hint="--workspace")
    return names


def _create(username: str, password: str | None, role: Role, workspaces: list[str], generate: bool) -> None:
    _workspace_names(workspaces)
    secret, generated = _password(password, generate)

    async def work(db: Any) -> None:
        users, spaces = MongoUserStore(db), MongoWorkspaceStore(db)
        for name in workspaces:
            await spaces.create(name)
        user = await create_user(username=username, password=secret, role=role, workspaces_list=workspaces, users=users, workspaces=spaces)
        typer.echo(f"created {role.value} {user.username} (id {user.id}) in {', '.join(workspaces) or 'no workspace'}")
        if generated:
            typer.echo(f"password: {secret}")

    _run(work)


@app.command("create-owner")
def create_owner(
    username: str = typer.Option("owner"),
    password: str | None = typer.Option(None, help="prompted when omitted"),
    workspace: str = typer.Option("default", help="created when missing"),
    generate: bool = typer.Option(False, help="generate a password and print it once"),
) -> None:
    """Create an owner (every workspace)."""
    _create(username, password, Role.OWNER, [workspace], generate)


@app.command("create-user")
def create_user_command(
    username: str,
    role: str = typer.Option("annotator", help="owner | admin | annotator"),
    workspace: Annotated[list[str] | None, typer.Option(help="repeat for several; created when missing")] = None,
    password: str | None = typer.Option(None),
    generate: bool = typer.Option(False),
) -> None:
    """Create a user who is a member of the given workspaces."""
    _create(username, password, _role(role, (Role.OWNER, Role.ADMIN, Role.ANNOTATOR)), workspace or ["default"], generate)


@app.command("create-api-key")
def create_api_key(
    workspace: str = typer.Option("default"),
    name: str = typer.Option("cli"),
    role: str = typer.Option("admin", help="admin | annotator"),
) -> None:
    """Create a workspace API key and print it once."""
    _workspace_names([workspace])
    chosen = _role(role, (Role.ADMIN, Role.ANNOTATOR))

    async def work(db: Any) -> None:
        await MongoWorkspaceStore(db).create(workspace)
        key = await MongoApiKeyStore(db).create(workspace=workspace, name=name, role=chosen.value)
        typer.echo(key.plaintext)

    _run(work)


@app.command("list-api-keys")
def list_api_keys_command(workspace: str = typer.Option("default")) -> None:
    """The workspace's API keys (id, name, role, revoked), never their secrets."""

    async def work(db: Any) -> None:
        for key in await MongoApiKeyStore(db).list(workspace):
            state = "revoked" if key.get("revoked") else "active"
            typer.echo(f"{key['_id']}  {key.get('name', '')}  {key.get('role', '')}  {state}")

    _run(work)


@app.command("revoke-api-key")
def revoke_api_key_command(key_id: str, workspace: str = typer.Option("default")) -> None:
    """Revoke a key (services refuse it from their next lookup; ingest within its 10 s cache)."""

    async def work(db: Any) -> None:
        if not await MongoApiKeyStore(db).revoke(workspace, key_id):
            raise NotFound(f"API key {key_id} not found in workspace {workspace}")
        typer.echo(f"revoked {key_id}")

    _run(work)


async def _user_named(db: Any, username: str) -> tuple[MongoUserStore, User]:
    users = MongoUserStore(db, cache_s=0)
    user = await users.by_username(username)
    if user is None:
        raise NotFound(f"user {username} not found")
    return users, user


@app.command("disable-user")
def disable_user(username: str) -> None:
    """Refuse the user's logins and end every session they have."""

    async def work(db: Any) -> None:
        users, user = await _user_named(db, username)
        await users.update(user.id, {"active": False, "session_epoch": user.session_epoch + 1})
        typer.echo(f"disabled {username}")

    _run(work)


@app.command("enable-user")
def enable_user(username: str) -> None:
    async def work(db: Any) -> None:
        users, user = await _user_named(db, username)
        await users.update(user.id, {"active": True})
        typer.echo(f"enabled {username}")

    _run(work)


@app.command("set-password")
def set_password(
    username: str, password: str | None = typer.Option(None, help="prompted when omitted"), generate: bool = typer.Option(False)
) -> None:
    """Set a user's password (ends every session of theirs)."""
    secret, generated = _password(password, generate)

    async def work(db: Any) -> None:
        users, user = await _user_named(db, username)
        await change_password(user_id=user.id, new_password=secret, users=users)
        typer.echo(f"password of {username} changed; their sessions ended")
        if generated:
            typer.echo(f"password: {secret}")

    _run(work)


@app.command("end-sessions")
def end_sessions(username: str) -> None:
    """Sign the user out everywhere (annotate and the monitor)."""

    async def work(db: Any) -> None:
        users, user = await _user_named(db, username)
        await end_all_sessions(user_id=user.id, users=users)
        typer.echo(f"ended every session of {username}")

    _run(work)


if __name__ == "__main__":
    app()

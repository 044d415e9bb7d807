"""Administration from the shell: ``python -m claystream_annotate.cli create-owner|create-user|create-api-key``.

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
from claystream_annotate.services.errors import AnnotateError
from claystream_annotate.services.principals import Role
from claystream_annotate.services.users import create_user, generate_password

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


def _create(username: str, password: str | None, role: Role, workspaces: list[str], generate: bool) -> None:
    secret, generated = _password(password, generate)

    async def work(db: Any) -> None:
        users, spaces = MongoUserStore(db), MongoWorkspaceStore(db)
        for name in workspaces:
            if not valid_name(name):
                raise typer.BadParameter(f"invalid workspace name {name}")
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
    _create(username, password, Role(role), workspace or ["default"], generate)


@app.command("create-api-key")
def create_api_key(
    workspace: str = typer.Option("default"),
    name: str = typer.Option("cli"),
    role: str = typer.Option("admin", help="admin | annotator"),
) -> None:
    """Create a workspace API key and print it once."""

    async def work(db: Any) -> None:
        await MongoWorkspaceStore(db).create(workspace)
        key = await MongoApiKeyStore(db).create(workspace=workspace, name=name, role=Role(role).value)
        typer.echo(key.plaintext)

    _run(work)


if __name__ == "__main__":
    app()

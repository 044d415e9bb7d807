"""Users, workspaces, membership, passwords (argon2 via pwdlib) and login."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from functools import lru_cache

from claystream_common.datasets import valid_name
from pwdlib import PasswordHash

from claystream_annotate.services.errors import Conflict, Invalid, NotFound, RateLimited, Unauthenticated
from claystream_annotate.services.ports import LoginLimiter, User, UserStore, WorkspaceStore
from claystream_annotate.services.principals import Principal, Role

MIN_PASSWORD_LENGTH = 8
# verified when the username is unknown, so a login takes as long either way
_DUMMY_HASH_SOURCE = "claystream-not-a-password"


@lru_cache(maxsize=1)
def password_hasher() -> PasswordHash:
    return PasswordHash.recommended()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return password_hasher().hash(_DUMMY_HASH_SOURCE)


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    return password_hasher().verify(password, password_hash)


def generate_password() -> str:
    return secrets.token_urlsafe(15)


def principal_for(user: User) -> Principal:
    role = Role(user.role)
    workspaces = None if role is Role.OWNER else frozenset(user.workspaces)
    return Principal(user_id=user.id, username=user.username, role=role, workspaces=workspaces, kind="user")


def _check_username(username: str) -> str:
    username = username.strip()
    if not (1 <= len(username) <= 64) or not all(c.isalnum() or c in "._-@" for c in username):
        raise Invalid("username", "1-64 letters, digits, '.', '_', '-' or '@'")
    return username


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid("password", f"at least {MIN_PASSWORD_LENGTH} characters")


async def create_workspace(name: str, *, workspaces: WorkspaceStore) -> str:
    if not valid_name(name):
        raise Invalid("name", "lower-case letters, digits, '_' and '-' (max 63)")
    if not await workspaces.create(name):
        raise Conflict(f"workspace {name} exists already")
    return name


async def create_user(
    *, username: str, password: str, role: Role | str, workspaces_list: list[str], users: UserStore, workspaces: WorkspaceStore
) -> User:
    """Create a user; every named workspace must exist.  Conflict when the username is taken."""
    username = _check_username(username)
    _check_password(password)
    try:
        role = Role(role)
    except ValueError:
        raise Invalid("role", "one of owner, admin, annotator") from None
    for name in workspaces_list:
        if not await workspaces.exists(name):
            raise Invalid("workspaces", f"workspace {name} does not exist")
    if await users.by_username(username) is not None:
        raise Conflict(f"username {username} is taken")
    user = User(
        id=uuid.uuid4().hex,
        username=username,
        role=role.value,
        workspaces=sorted(set(workspaces_list)),
        password_hash=hash_password(password),
        created_at=datetime.now(UTC),
    )
    await users.insert(user)
    return user


async def login(*, username: str, password: str, client_ip: str, users: UserStore, limiter: LoginLimiter) -> User:
    """Check the password, with per-ip rate limiting and per-username+ip lockout."""
    wait = await limiter.check(username, client_ip)
    if wait is not None:
        raise RateLimited(f"too many login attempts; try again in {wait} s", retry_after_s=wait)
    user = await users.by_username(username.strip())
    if user is None or not user.active:
        verify_password(password, _dummy_hash())
        await limiter.failed(username, client_ip)
        raise Unauthenticated("wrong username or password")
    if not verify_password(password, user.password_hash):
        await limiter.failed(username, client_ip)
        raise Unauthenticated("wrong username or password")
    await limiter.succeeded(username, client_ip)
    return user


async def set_membership(
    *, actor: Principal, user_id: str, workspace: str, member: bool, role: Role | None = None, users: UserStore
) -> User:
    """Add a user to / remove them from a workspace (admins of that workspace or owners)."""
    actor.require(workspace, Role.ADMIN)
    user = await users.get(user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    if role is not None and not actor.role.at_least(role):
        raise Invalid("role", f"you cannot grant {role.value}")
    names = set(user.workspaces)
    (names.add if member else names.discard)(workspace)
    changes: dict[str, object] = {"workspaces": sorted(names)}
    if role is not None:
        changes["role"] = role.value
    await users.update(user.id, changes)
    user.workspaces = sorted(names)
    if role is not None:
        user.role = role.value
    return user


async def change_password(*, user_id: str, new_password: str, users: UserStore) -> None:
    """Set a new password and end every existing session of the user."""
    _check_password(new_password)
    user = await users.get(user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    await users.update(user_id, {"password_hash": hash_password(new_password), "session_epoch": user.session_epoch + 1})


async def ensure_first_owner(
    *, username: str | None, password: str | None, workspace: str, production: bool, users: UserStore, workspaces: WorkspaceStore
) -> tuple[str, str] | None:
    """Create the first owner when none exists.

    With ``username``/``password`` given they are used; otherwise (development/test only) an
    ``owner`` with a generated password is created and ``(username, password)`` returned so the
    caller can print it once.  Production without a configured owner creates nothing.
    """
    if await users.any_owner():
        return None
    if not await workspaces.exists(workspace):
        await workspaces.create(workspace)
    generated = None
    if not username or not password:
        if production:
            return None
        username, password = username or "owner", generate_password()
        generated = (username, password)
    await create_user(
        username=username, password=password, role=Role.OWNER, workspaces_list=[workspace], users=users, workspaces=workspaces
    )
    return generated

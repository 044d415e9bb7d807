"""Users, workspaces, membership, passwords (argon2 via pwdlib) and login."""

from __future__ import annotations

import secrets
import uuid
from datetime import UTC, datetime
from collections.abc import Iterable
from functools import lru_cache

from claystream_common.datasets import valid_name
from pwdlib import PasswordHash

from claystream_annotate.services.errors import Conflict, Forbidden, Invalid, NotFound, RateLimited, Unauthenticated
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
    if Role(user.role) is Role.OWNER:
        return Principal(user_id=user.id, username=user.username, role=Role.OWNER, workspaces=None, kind="user")
    roles = {name: Role(value) for name, value in user.memberships.items()}
    return Principal(
        user_id=user.id, username=user.username, role=highest_role(roles.values()), workspaces=frozenset(roles),
        kind="user", roles=roles,
    )


def highest_role(roles: Iterable[Role | str]) -> Role:
    """The highest of ``roles`` (annotator when there are none)."""
    return max((Role(r) for r in roles), key=lambda r: r.rank, default=Role.ANNOTATOR)


def visible_memberships(user: User, viewer: Principal) -> dict[str, str]:
    """The part of ``user``'s memberships ``viewer`` may know about (never other workspaces' names)."""
    return {name: role for name, role in user.memberships.items() if viewer.can_see(name)}


def _check_username(username: str) -> str:
    """ASCII only: any letter of any script let a workspace admin create "оwner" (Cyrillic о) or "ｏｗｎｅｒ" beside the
    owner, names that read the same in member lists, response authors and exports."""
    username = username.strip()
    if not (1 <= len(username) <= 64) or not all((c.isascii() and c.isalnum()) or c in "._-@" for c in username):
        raise Invalid("username", "1-64 ASCII letters, digits, '.', '_', '-' or '@'")
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
    if await users.by_username(username, any_case=True) is not None:  # "Owner" beside "owner" reads as the owner
        raise Conflict(f"username {username} is taken")
    user = User(
        id=uuid.uuid4().hex,
        username=username,
        role=role.value,
        workspaces=sorted(set(workspaces_list)),
        password_hash=hash_password(password),
        created_at=datetime.now(UTC),
        memberships={name: role.value for name in sorted(set(workspaces_list))},
    )
    await users.insert(user)
    return user


async def login(*, username: str, password: str, client_ip: str, users: UserStore, limiter: LoginLimiter) -> User:
    """Check the password, with per-ip rate limiting and per-username+ip lockout.  The name is trimmed once, for
    the lookup and the lockout alike: " name" and "name " were each a fresh lockout for the same account."""
    username = username.strip()
    wait = await limiter.check(username, client_ip)
    if wait is not None:
        raise RateLimited(f"too many login attempts; try again in {wait} s", retry_after_s=wait)
    user = await users.by_username(username)
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
    """Add a user to / remove them from ``workspace``, or change their role *there* only.

    Admins of the workspace manage its members (never anyone else: a user who is not a member is
    *not found* to them); only owners add existing users from elsewhere.  Owners are global and
    are never changed through a membership.  A role is granted only up to the actor's own role there.
    """
    actor.require_manager(workspace)
    user = await users.get(user_id)
    if user is None or (not actor.is_owner and workspace not in user.memberships):
        raise NotFound(f"user {user_id} not found in workspace {workspace}")
    if Role(user.role) is Role.OWNER:
        raise Forbidden("owners reach every workspace; their role is not a workspace membership")
    held = actor.role_in(workspace)
    if role is not None and (held is None or not held.at_least(role) or role is Role.OWNER):
        raise Invalid("role", f"you cannot grant {role.value}")
    memberships = dict(user.memberships)
    if member:
        memberships[workspace] = (role or Role(memberships.get(workspace, Role.ANNOTATOR.value))).value
    else:
        memberships.pop(workspace, None)
    changes: dict[str, object] = {
        "memberships": memberships,
        "workspaces": sorted(memberships),
        "role": highest_role(memberships.values()).value,
    }
    await users.update(user.id, changes)
    user.memberships, user.workspaces, user.role = memberships, sorted(memberships), str(changes["role"])
    return user


async def change_password(*, user_id: str, new_password: str, users: UserStore) -> None:
    """Set a new password and end every existing session of the user."""
    _check_password(new_password)
    user = await users.get(user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    await users.update(user_id, {"password_hash": hash_password(new_password), "session_epoch": user.session_epoch + 1})


async def require_workspace(workspace: str, workspaces: WorkspaceStore) -> None:
    """Nothing is created under a workspace that does not exist (a dataset, a membership, an API key): a typo or a
    tampered form would leave it waiting, with its roles, for whoever creates that workspace later."""
    if not await workspaces.exists(workspace):
        raise NotFound(f"workspace {workspace} not found")


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
    existing = await users.by_username((username or "owner").strip())
    if existing is not None:  # no owner left but the owner account exists (demoted by an older version): restore it
        await users.update(existing.id, {"role": Role.OWNER.value})
        return None
    generated = None
    if not username or not password:
        if production:
            return None
        username, password = username or "owner", generate_password()
        generated = (username, password)
    try:
        await create_user(
            username=username, password=password, role=Role.OWNER, workspaces_list=[workspace], users=users, workspaces=workspaces
        )
    except Conflict:  # another replica starting on the same empty database created it first
        return None
    return generated

"""Account security: revoke API keys, disable users, change passwords, end sessions (issue 17, finding 6).

What each does (SECURITY.md repeats it):
- revoking a key marks it ``revoked``; every service refuses it on its next lookup (annotate, trainer
  and the monitor read the key on every request, ingest caches keys ``api_key_cache_ttl_s``, 10 s);
- disabling a user refuses their logins and ends every session they have (``session_epoch`` + 1);
- a password change (their own, with the current password, or an admin's reset) ends every session;
- "end all sessions" bumps the epoch; logout ends the one session (its tag in ``ended_sessions``).
People and keys are managed by people (sessions) and services, never by an API key: a leaked key
cannot mint keys or users that outlive its revocation.  An admin acts only on members of their own
workspace, never on an owner; only owners act on owners.
"""

from __future__ import annotations

from typing import Any

from claystream_common.web_sessions import WebSession, live_session_tags, session_tag

from claystream_annotate.services.errors import Forbidden, Invalid, NotFound, Unauthenticated
from claystream_annotate.services.ports import ApiKeyStore, User, UserStore
from claystream_annotate.services.principals import Principal, Role
from claystream_annotate.services.users import change_password, verify_password


async def managed_user(*, actor: Principal, workspace: str, user_id: str, users: UserStore) -> User:
    """The member of ``workspace`` whose account an admin may change (password, disabled, sessions): never an
    owner, never themselves, and only someone all of whose workspaces they administer.  The account is one for
    every workspace: an admin of A resetting the password of someone who is also in B would sign in as them in B."""
    actor.require_manager(workspace)
    user = await users.get(user_id)
    if user is None or (not actor.is_owner and workspace not in user.memberships):
        raise NotFound(f"user {user_id} not found in workspace {workspace}")
    if Role(user.role) is Role.OWNER and not actor.is_owner:
        raise Forbidden("only owners manage owners")
    if not actor.is_owner and any(not actor.is_admin_of(other) for other in user.memberships):
        raise Forbidden(f"{user.username} is also a member of workspaces you do not administer: an owner, or an admin "
                        "of every one of them, changes the account")
    if user.id == actor.user_id:
        raise Forbidden("use your own account settings (/api/v1/me/...) to change your own account")
    return user


async def list_api_keys(*, actor: Principal, workspace: str, api_keys: ApiKeyStore) -> list[dict[str, Any]]:
    actor.require_manager(workspace)
    return [
        {"key_id": d["_id"], "name": d.get("name", ""), "role": d.get("role", ""), "revoked": bool(d.get("revoked")),
         "created_at": d.get("created_at")}
        for d in await api_keys.list(workspace)
    ]


async def revoke_api_key(*, actor: Principal, workspace: str, key_id: str, api_keys: ApiKeyStore) -> None:
    actor.require_manager(workspace)
    if not await api_keys.revoke(workspace, key_id):
        raise NotFound(f"API key {key_id} not found in workspace {workspace}")


async def set_active(*, actor: Principal, workspace: str, user_id: str, active: bool, users: UserStore) -> User:
    """Disable (refuse logins, end every session) or enable a member."""
    user = await managed_user(actor=actor, workspace=workspace, user_id=user_id, users=users)
    changes: dict[str, Any] = {"active": active}
    if not active:
        changes["session_epoch"] = user.session_epoch + 1
    await users.update(user.id, changes)
    user.active = active
    return user


async def reset_password(*, actor: Principal, workspace: str, user_id: str, new_password: str, users: UserStore) -> None:
    user = await managed_user(actor=actor, workspace=workspace, user_id=user_id, users=users)
    await change_password(user_id=user.id, new_password=new_password, users=users)


async def end_all_sessions(*, user_id: str, users: UserStore) -> None:
    user = await users.get(user_id)
    if user is None:
        raise NotFound(f"user {user_id} not found")
    await users.update(user_id, {"session_epoch": user.session_epoch + 1})


async def end_member_sessions(*, actor: Principal, workspace: str, user_id: str, users: UserStore) -> None:
    user = await managed_user(actor=actor, workspace=workspace, user_id=user_id, users=users)
    await end_all_sessions(user_id=user.id, users=users)


def require_user(actor: Principal) -> None:
    if actor.kind != "user":
        raise Forbidden("only a signed-in user has an account to change")


async def change_own_password(*, actor: Principal, current_password: str, new_password: str, users: UserStore) -> None:
    require_user(actor)
    user = await users.get(actor.user_id)
    if user is None or not verify_password(current_password, user.password_hash):
        raise Invalid("current_password", "wrong password")
    await change_password(user_id=user.id, new_password=new_password, users=users)


async def end_session(*, user_id: str, session: WebSession, max_age_s: int, users: UserStore) -> None:
    """Logout: this one session stops counting, here and in every service reading the user."""
    user = await users.get(user_id)
    if user is None:
        raise Unauthenticated("not signed in")
    tags = live_session_tags([*user.ended_sessions, session_tag(session)], max_age_s=max_age_s)
    await users.update(user_id, {"ended_sessions": tags})

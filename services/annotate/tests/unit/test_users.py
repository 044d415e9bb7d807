from __future__ import annotations

import pytest
from claystream_annotate.services.errors import Conflict, Invalid, RateLimited, Unauthenticated
from claystream_annotate.services.principals import Role
from claystream_annotate.services.users import (
    change_password,
    create_user,
    ensure_first_owner,
    login,
    principal_for,
    verify_password,
)
from fakes import FakeLimiter, FakeUsers, FakeWorkspaces


async def test_passwords_are_argon2_hashed_and_checked() -> None:
    users, spaces = FakeUsers(), FakeWorkspaces("ws")
    user = await create_user(username="ann", password="correct horse", role="annotator", workspaces_list=["ws"], users=users, workspaces=spaces)
    assert user.password_hash.startswith("$argon2") and "correct horse" not in user.password_hash
    assert verify_password("correct horse", user.password_hash)
    with pytest.raises(Conflict):
        await create_user(username="ann", password="another one", role="annotator", workspaces_list=["ws"], users=users, workspaces=spaces)
    with pytest.raises(Invalid) as caught:
        await create_user(username="bob", password="short", role="annotator", workspaces_list=["ws"], users=users, workspaces=spaces)
    assert caught.value.field == "password"
    with pytest.raises(Invalid) as caught:
        await create_user(username="bob", password="long enough", role="annotator", workspaces_list=["nope"], users=users, workspaces=spaces)
    assert caught.value.field == "workspaces"


async def test_login_locks_out_after_repeated_failures() -> None:
    users, spaces, limiter = FakeUsers(), FakeWorkspaces("ws"), FakeLimiter(max_failures=2)
    await create_user(username="ann", password="correct horse", role="annotator", workspaces_list=["ws"], users=users, workspaces=spaces)
    assert (await login(username="ann", password="correct horse", client_ip="1.1.1.1", users=users, limiter=limiter)).username == "ann"
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await login(username="ann", password="wrong", client_ip="1.1.1.1", users=users, limiter=limiter)
    with pytest.raises(RateLimited):
        await login(username="ann", password="correct horse", client_ip="1.1.1.1", users=users, limiter=limiter)
    with pytest.raises(Unauthenticated):
        await login(username="ghost", password="whatever", client_ip="2.2.2.2", users=users, limiter=limiter)


async def test_first_owner_generated_in_development_only() -> None:
    users, spaces = FakeUsers(), FakeWorkspaces()
    assert await ensure_first_owner(username=None, password=None, workspace="default", production=True, users=users, workspaces=spaces) is None
    assert not users.users
    generated = await ensure_first_owner(username=None, password=None, workspace="default", production=False, users=users, workspaces=spaces)
    assert generated is not None and generated[0] == "owner" and len(generated[1]) >= 16
    assert await ensure_first_owner(username="x", password="y" * 12, workspace="default", production=False, users=users, workspaces=spaces) is None
    owner = next(iter(users.users.values()))
    assert principal_for(owner).workspaces is None and principal_for(owner).role is Role.OWNER


async def test_changing_the_password_ends_sessions() -> None:
    users, spaces = FakeUsers(), FakeWorkspaces("ws")
    user = await create_user(username="ann", password="correct horse", role="admin", workspaces_list=["ws"], users=users, workspaces=spaces)
    await change_password(user_id=user.id, new_password="a new secret", users=users)
    changed = await users.get(user.id)
    assert changed is not None and changed.session_epoch == 1 and verify_password("a new secret", changed.password_hash)


def test_production_refuses_weak_owner_password() -> None:
    from claystream_annotate.config import AnnotateSettings
    from pydantic import ValidationError

    strong = {"mode": "production", "secret_key": "s" * 32, "service_token": "t" * 32}
    with pytest.raises(ValidationError, match="owner_password"):
        AnnotateSettings(**strong, owner_username="boss", owner_password="changeme")
    AnnotateSettings(**strong, owner_username="boss", owner_password="a-long-random-passphrase")


async def test_first_owner_is_restored_not_recreated_when_demoted_by_an_older_version() -> None:
    users, spaces = FakeUsers(), FakeWorkspaces()
    await ensure_first_owner(username=None, password=None, workspace="default", production=False, users=users, workspaces=spaces)
    owner = next(iter(users.users.values()))
    await users.update(owner.id, {"role": "annotator"})  # what the old set_membership could do
    assert await ensure_first_owner(username=None, password=None, workspace="default", production=False, users=users, workspaces=spaces) is None
    assert len(users.users) == 1 and (await users.get(owner.id)).role == "owner"  # type: ignore[union-attr]


async def test_membership_roles_are_per_workspace() -> None:
    from claystream_annotate.services.errors import Forbidden, NotFound
    from claystream_annotate.services.users import set_membership

    users, spaces = FakeUsers(), FakeWorkspaces("a", "b")
    admin_a = await create_user(username="boss", password="long enough", role="admin", workspaces_list=["a"], users=users, workspaces=spaces)
    owner = await create_user(username="root", password="long enough", role="owner", workspaces_list=["a"], users=users, workspaces=spaces)
    only_b = await create_user(username="bee", password="long enough", role="annotator", workspaces_list=["b"], users=users, workspaces=spaces)
    actor = principal_for(admin_a)
    with pytest.raises(NotFound):
        await set_membership(actor=actor, user_id=only_b.id, workspace="a", member=True, role=Role.ADMIN, users=users)
    with pytest.raises(Forbidden):
        await set_membership(actor=actor, user_id=owner.id, workspace="a", member=True, role=Role.ANNOTATOR, users=users)
    shared = await set_membership(actor=principal_for(owner), user_id=only_b.id, workspace="a", member=True, users=users)
    assert shared.memberships == {"a": "annotator", "b": "annotator"}
    promoted = await set_membership(actor=actor, user_id=only_b.id, workspace="a", member=True, role=Role.ADMIN, users=users)
    assert promoted.memberships == {"a": "admin", "b": "annotator"}
    seen = principal_for(promoted)
    assert seen.is_admin_of("a") and not seen.is_admin_of("b") and seen.role_in("c") is None


async def test_a_generated_owner_password_goes_to_a_private_file_not_to_the_log(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """With a state folder the password was also printed to stdout, which is the service's world-readable log."""
    import stat
    from types import SimpleNamespace

    from claystream_annotate.bootstrap import prepare_owner

    settings = SimpleNamespace(owner_username=None, owner_password=None, owner_workspace="default", is_production=False,
                               state_dir=str(tmp_path))
    await prepare_owner(SimpleNamespace(settings=settings, users=FakeUsers(), workspaces=FakeWorkspaces()))  # type: ignore[arg-type]
    username, password = (tmp_path / "annotate-owner.txt").read_text().split()
    out = capsys.readouterr().out
    assert username == "owner" and password not in out and str(tmp_path / "annotate-owner.txt") in out
    assert stat.S_IMODE((tmp_path / "annotate-owner.txt").stat().st_mode) == 0o600


@pytest.mark.parametrize("lookalike", ["оwner", "ｏｗｎｅｒ", "ⅰⅱ", "ǅ"])
async def test_a_username_is_ascii_so_none_reads_like_another(lookalike: str) -> None:
    users, spaces = FakeUsers(), FakeWorkspaces("ws")
    with pytest.raises(Invalid) as caught:
        await create_user(username=lookalike, password="correct horse", role="annotator", workspaces_list=["ws"],
                          users=users, workspaces=spaces)
    assert caught.value.field == "username" and "ASCII" in caught.value.reason


async def test_a_username_differing_from_another_only_in_case_is_taken() -> None:
    users, spaces = FakeUsers(), FakeWorkspaces("ws")
    await create_user(username="owner", password="correct horse", role="admin", workspaces_list=["ws"], users=users, workspaces=spaces)
    with pytest.raises(Conflict):
        await create_user(username="Owner", password="correct horse", role="annotator", workspaces_list=["ws"], users=users, workspaces=spaces)

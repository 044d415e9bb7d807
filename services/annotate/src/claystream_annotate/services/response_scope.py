"""Whose responses a response-status filter looks at: the caller's own (``mine``) or anyone's (``any``).

Annotators label and filter on their own answers.  Admins, API keys and services read datasets:
for them "submitted" means *some annotator* submitted the record, and "pending" means nobody
answered it yet.  ``any`` needs the admin role (annotators never see other people's answers).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from claystream_annotate.services.errors import Invalid
from claystream_annotate.services.principals import Principal, Role

RESPONSE_STATUSES = ("pending", "submitted", "draft", "discarded")
SCOPES = ("mine", "any")


def resolve_scope(actor: Principal, workspace: str, scope: str | None) -> str:
    """The scope asked for, or the caller's default: ``any`` for admin API keys and services, else ``mine``."""
    if scope is None or scope == "":
        return "any" if actor.kind != "user" and actor.role.at_least(Role.ADMIN) else "mine"
    if scope not in SCOPES:
        raise Invalid("response_scope", f"one of {list(SCOPES)}")
    if scope == "any":
        actor.require(workspace, Role.ADMIN)
    return scope


def any_status_matches(statuses: Iterable[str | None], wanted: str) -> bool:
    """``pending``: nobody answered; otherwise: at least one answer has the ``wanted`` status."""
    present = {status for status in statuses if status}
    return not present if wanted == "pending" else wanted in present


def record_matches(document: dict[str, Any], wanted: str) -> bool:
    """The record document's per-user statuses (``user_status``, kept by the outbox relay)."""
    return any_status_matches((document.get("user_status") or {}).values(), wanted)

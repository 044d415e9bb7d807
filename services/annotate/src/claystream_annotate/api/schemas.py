"""Request / answer models of the JSON API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from claystream_annotate.services.ports import User
from claystream_annotate.services.principals import Principal
from claystream_annotate.services.records import RecordQuery
from claystream_annotate.services.users import visible_memberships


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class UserPublic(BaseModel):
    id: str
    username: str
    role: str = Field(description="the role in the workspace asked about (owner for owners), else the highest held")
    workspaces: list[str] = Field(description="the memberships the caller may know about")
    memberships: dict[str, str] = Field(default_factory=dict, description="workspace → role, as far as the caller may know")
    active: bool = True

    @classmethod
    def of(cls, user: User, viewer: Principal | None = None, workspace: str | None = None) -> UserPublic:
        """``viewer``: hide memberships of workspaces the viewer cannot see (None: the user themselves)."""
        memberships = user.memberships if viewer is None else visible_memberships(user, viewer)
        role = user.role if user.role == "owner" or workspace is None else memberships.get(workspace, user.role)
        return cls(
            id=user.id, username=user.username, role=role, workspaces=sorted(memberships), memberships=memberships,
            active=user.active,
        )


class SessionOut(BaseModel):
    user: UserPublic
    csrf_token: str


class WorkspaceIn(BaseModel):
    name: str


class UserCreate(BaseModel):
    username: str
    password: str
    role: Literal["owner", "admin", "annotator"] = "annotator"


class MembershipIn(BaseModel):
    role: Literal["admin", "annotator"] | None = None


class ApiKeyIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    role: Literal["admin", "annotator"] = "annotator"


class ApiKeyOut(BaseModel):
    key_id: str
    api_key: str = Field(description="shown once")
    workspace: str
    role: str


class ResponseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["submitted", "draft", "discarded"] = "submitted"
    values: dict[str, Any] = Field(default_factory=dict)


class ResponseOut(BaseModel):
    record_id: str
    user_id: str
    status: str
    values: dict[str, Any]
    version: int
    updated_at: datetime


class QueueAnswerIn(ResponseIn):
    record_id: str = Field(min_length=1)


class RecordFilter(BaseModel):
    """The bulk view's filter (same meaning as the records query parameters)."""

    model_config = ConfigDict(extra="forbid")
    q: str | None = None
    response_status: str | None = None
    response_scope: str | None = Field(default=None, description="mine | any (default: any for admin API keys)")
    status: str | None = None
    metadata: dict[str, list[str]] = Field(default_factory=dict)
    suggested: str | None = None
    question: str | None = None
    score_min: float | None = None
    score_max: float | None = None

    def query(self) -> RecordQuery:
        """The records query this filter means (every route that takes a filter reads it here)."""
        return RecordQuery(q=self.q, response_status=self.response_status, response_scope=self.response_scope,
                           status=self.status, metadata=self.metadata, suggested=self.suggested, question=self.question,
                           score_min=self.score_min, score_max=self.score_max)


class BulkResponseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    record_ids: list[str] | None = Field(default=None, description="the selected records")
    filter: RecordFilter | None = Field(default=None, description="or every record matching this filter")
    status: Literal["submitted", "draft", "discarded"] = "submitted"
    values: dict[str, Any] = Field(default_factory=dict)
    dry_run: bool = Field(default=False, description="only count the matching records (for the confirmation)")


class BulkResponseOut(BaseModel):
    matched: int
    changed: int
    dry_run: bool


class PasswordReset(BaseModel):
    new_password: str = Field(min_length=1, max_length=1024)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=1, max_length=1024)


class ApiKeyPublic(BaseModel):
    key_id: str
    name: str
    role: str
    revoked: bool
    created_at: datetime | None = None

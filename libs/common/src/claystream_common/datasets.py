"""The dataset contract shared by annotate (owner), ingest (validation) and trainer (settings).

Dataset documents live in the ``datasets`` collection of the shared database
(owned and written by annotate only); other services read them through this model.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,62}$"
_NAME_RE = re.compile(NAME_PATTERN)
RECORD_NAMESPACE = uuid.UUID("6f1b6a43-3b7a-4c1e-9a53-9b0f6f0c2a11")

Name = Annotated[str, Field(pattern=NAME_PATTERN, description="lower-case letters, digits, '_' and '-'")]


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    title: str | None = None
    required: bool = True
    use_markdown: bool = False


class QuestionSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    title: str | None = None
    type: Literal["label", "multi_label", "rating", "text"]
    labels: list[str] = Field(default_factory=list, description="allowed values for label / multi_label")
    rating_max: int | None = Field(default=None, ge=2, le=10, description="ratings are 1..rating_max")
    required: bool = True

    @model_validator(mode="after")
    def _check_kind(self) -> "QuestionSpec":
        if self.type in ("label", "multi_label"):
            if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
                raise ValueError("label questions need at least two distinct labels")
        if self.type == "rating" and self.rating_max is None:
            raise ValueError("rating questions need rating_max")
        return self

    def allowed_values(self) -> list[object] | None:
        if self.type in ("label", "multi_label"):
            return list(self.labels)
        if self.type == "rating":
            return list(range(1, (self.rating_max or 0) + 1))
        return None


class MetadataPropertySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    type: Literal["terms", "integer", "float"]
    values: list[str] | None = Field(default=None, description="allowed terms (None: any)")


MAX_VECTOR_DIMENSIONS = 4096
# The vector field every dataset has without declaring it: the trainer's sentence embeddings of the records
# (served by the trainer's ``/embeddings`` API); a dataset cannot declare a field of that name.
TRAINER_EMBEDDINGS = "trainer_embeddings"


class VectorFieldSpec(BaseModel):
    """A vector field: records may carry ``vectors: {name: [dimensions floats]}`` for similarity search."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    title: str | None = None
    dimensions: int = Field(ge=1, le=MAX_VECTOR_DIMENSIONS)

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == TRAINER_EMBEDDINGS:
            raise ValueError(f"'{TRAINER_EMBEDDINGS}' is reserved for the trainer's embeddings")
        return value


class TrainerSettings(BaseModel):
    """Stored with the dataset, used by the trainer."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    question: str | None = Field(default=None, description="the label question to learn (default: the first)")
    text_field: str | None = Field(default=None, description="the field to learn from (default: the first)")
    refresh_every: int = Field(default=8, ge=1, description="new labels between fast refreshes")
    min_per_label: int = Field(default=2, ge=1, description="examples every label needs before the first refresh")
    finetune_every: int = Field(default=64, ge=1, description="new labels between full fine-tunes")
    finetune_max_steps: int | None = Field(default=None, ge=1)
    forward_predictions: bool = False


class DatasetSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    workspace: Name
    name: Name
    guidelines: str = ""
    fields: list[FieldSpec] = Field(min_length=1)
    questions: list[QuestionSpec] = Field(min_length=1)
    metadata_properties: list[MetadataPropertySpec] = Field(default_factory=list)
    vectors: list[VectorFieldSpec] = Field(default_factory=list, description="vector fields for similarity search")
    min_submitted: int = Field(default=1, ge=1, le=20)
    trainer: TrainerSettings = Field(default_factory=TrainerSettings)

    @field_validator("fields", "questions", "metadata_properties", "vectors")
    @classmethod
    def _unique_names(cls, items: list[BaseModel]) -> list[BaseModel]:
        names = [getattr(item, "name") for item in items]
        if len(names) != len(set(names)):
            raise ValueError("names must be unique")
        return items

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)

    def question(self, name: str) -> QuestionSpec | None:
        return next((q for q in self.questions if q.name == name), None)

    def metadata_property(self, name: str) -> MetadataPropertySpec | None:
        return next((m for m in self.metadata_properties if m.name == name), None)

    def vector_field(self, name: str) -> VectorFieldSpec | None:
        return next((v for v in self.vectors if v.name == name), None)

    @classmethod
    def from_document(cls, document: dict[str, object]) -> "DatasetSpec":
        data = dict(document)
        data["id"] = str(data.pop("_id", data.get("id")))
        return cls.model_validate(data)


def valid_name(value: str) -> bool:
    return bool(_NAME_RE.match(value))


def record_id_for(workspace: str, dataset: str, external_id: str | None) -> str:
    """Deterministic from (workspace, dataset, external_id), so re-sent batches never duplicate."""
    if external_id is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(RECORD_NAMESPACE, f"{workspace}\x1f{dataset}\x1f{external_id}"))

"""The dataset contract shared by annotate (owner), ingest (validation) and trainer (settings).

Dataset documents live in the ``datasets`` collection of the shared database
(owned and written by annotate only); other services read them through this model.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from claystream_common.questions import QUESTION_TYPES, question_type

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
    """One question; what its ``type`` means (settings, values, agreement, training, rendering)
    lives in the question-type registry (``claystream_common.questions``)."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    title: str | None = None
    type: str = Field(
        description="a registered question type (claystream_common.questions)",
        json_schema_extra={"enum": sorted(QUESTION_TYPES)},
    )
    labels: list[str] = Field(default_factory=list, description="labels (label, multi_label, span) or options to order (ranking)")
    rating_max: int | None = Field(default=None, ge=2, le=10, description="ratings are 1..rating_max")
    field: str | None = Field(default=None, description="span questions: the text field the spans point into")
    allow_overlap: bool = Field(default=False, description="span questions: may spans overlap")
    required: bool = True

    @field_validator("type")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in QUESTION_TYPES:
            raise ValueError(f"Input should be a registered question type {sorted(QUESTION_TYPES)}, not {value!r}")
        return value

    @model_validator(mode="after")
    def _check_settings(self) -> "QuestionSpec":
        question_type(self).check_settings(self)
        return self

    def allowed_values(self) -> list[object] | None:
        """What the UI offers (None when the type offers nothing to choose)."""
        return question_type(self).options(self) or None


class MetadataPropertySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    type: Literal["terms", "integer", "float"]
    values: list[str] | None = Field(default=None, description="allowed terms (None: any)")


MAX_VECTOR_DIMENSIONS = 4096
MAX_LABELS = 500  # a question's labels (or options): every answer is checked against them, and the page shows them
# how many of each a dataset may declare: every record's page renders them all, every answer and filter checks them
MAX_SETTINGS = {"fields": 100, "questions": 100, "metadata_properties": 200, "vectors": 20}
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

    @model_validator(mode="after")
    def _questions_fit_dataset(self) -> "DatasetSpec":
        for question in self.questions:
            question_type(question).check_in_dataset(question, self)
        return self

    def settings_problem(self, before: DatasetSpec | None = None) -> tuple[str, str] | None:
        """(field, reason) for settings that are valid to read but refused when written: more than ``MAX_LABELS``
        labels on a question, a blank label or one with spaces around it, an empty list of allowed terms, trainer
        settings naming a question the trainer cannot learn or a missing field.  Not checked when a stored dataset is
        read, so none written before stops loading; ``before`` (the stored settings of an update): a label it had
        already is not judged again, since it can be neither dropped nor renamed.  At most ``MAX_SETTINGS`` fields,
        questions, metadata properties and vector fields (5,000 questions were accepted)."""
        for setting, most in MAX_SETTINGS.items():
            declared = len(getattr(self, setting))
            if declared > most and (before is None or declared > len(getattr(before, setting))):
                return setting, f"at most {most}, not {declared}"
        for index, question in enumerate(self.questions):
            if len(question.labels) > MAX_LABELS:
                return f"questions.{index}.labels", f"at most {MAX_LABELS} labels, not {len(question.labels)}"
            stored = before.question(question.name) if before is not None else None
            kept = set(stored.labels) if stored is not None else set()
            unusable = next((label for label in question.labels
                             if label not in kept and (not label.strip() or label != label.strip())), None)
            if unusable is not None:  # the page's form reads a blank choice as no answer, and " a" looks like "a"
                return f"questions.{index}.labels", f"{unusable!r}: a label may not be blank nor start or end with a space"
        for index, prop in enumerate(self.metadata_properties):
            if prop.values is not None and not prop.values:
                return f"metadata_properties.{index}.values", "give at least one term, or no list for any term"
        learned, text = self.trainer.question, self.trainer.text_field
        if learned is not None:
            question = self.question(learned)
            if question is None or question_type(question).training_kind is None:
                learnable = [q.name for q in self.questions if question_type(q).training_kind is not None]
                return "trainer.question", f"{learned!r} is not a question the trainer can learn (here: {learnable})"
        if text is not None and self.field(text) is None:
            return "trainer.text_field", f"{text!r} is not a field of the dataset ({[f.name for f in self.fields]})"
        return None

    @classmethod
    def unknown_settings(cls, body: dict[str, object]) -> list[str]:
        """Keys of a create or update body that are no setting (a typo would otherwise be dropped without a word)."""
        return sorted(key for key in body if key not in cls.model_fields)

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
    return bool(_NAME_RE.fullmatch(value))  # match() took "name\n": Python's $ also matches before a final newline


def record_id_for(workspace: str, dataset: str, external_id: str | None) -> str:
    """Deterministic from (workspace, dataset, external_id), so re-sent batches never duplicate."""
    if external_id is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(RECORD_NAMESPACE, f"{workspace}\x1f{dataset}\x1f{external_id}"))

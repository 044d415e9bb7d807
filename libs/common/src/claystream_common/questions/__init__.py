"""Question types as one registry: ``question_type(spec)`` answers everything a service needs to know
about a question (settings, values, agreement, training, the partial that renders it).

The trainer-facing part: ``question_type(spec).training_kind`` ("single_label" | "multi_label" |
"ordinal" | None) and ``question_type(spec).labels_for(spec)`` (the label set / ordered classes),
``question_type(spec).training_target(spec, value)`` (what to learn from a stored answer).
"""

from claystream_common.questions.base import Agreement, InvalidValue, QuestionType, TrainingKind
from claystream_common.questions.registry import QUESTION_TYPES, first_question, question_type

__all__ = ["Agreement", "InvalidValue", "QUESTION_TYPES", "QuestionType", "TrainingKind", "first_question", "question_type"]

"""The registry of question types: a question's ``type`` names one of these objects."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from claystream_common.questions.base import QuestionType
from claystream_common.questions.label import LabelType
from claystream_common.questions.multi_label import MultiLabelType
from claystream_common.questions.ranking import RankingType
from claystream_common.questions.rating import RatingType
from claystream_common.questions.span import SpanType
from claystream_common.questions.text import TextType

if TYPE_CHECKING:
    from claystream_common.datasets import DatasetSpec, QuestionSpec

QUESTION_TYPES: dict[str, QuestionType] = {
    t.name: t for t in (LabelType(), MultiLabelType(), RatingType(), TextType(), SpanType(), RankingType())
}


def question_type(question: QuestionSpec | str) -> QuestionType:
    """The type object of a question (or of a type name); KeyError names the known types."""
    name = question if isinstance(question, str) else question.type
    try:
        return QUESTION_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown question type {name!r}; known: {sorted(QUESTION_TYPES)}") from None


def first_question(spec: DatasetSpec, where: Callable[[QuestionType], bool]) -> QuestionSpec | None:
    """The first question of the dataset whose type satisfies ``where``."""
    return next((q for q in spec.questions if where(question_type(q))), None)

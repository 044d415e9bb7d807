"""Free text (at most 10,000 characters); no agreement measure, never trained."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from claystream_common.questions.base import InvalidValue, QuestionType

if TYPE_CHECKING:
    from claystream_common.datasets import QuestionSpec

MAX_TEXT = 10_000


class TextType(QuestionType):
    name = "text"
    title = "Free text"
    partial = "questions/text.html"

    def settings_from_form(self, labels: list[str], text_field: str) -> dict[str, Any]:
        return {}

    def normalise(self, spec: QuestionSpec, value: Any, fields: Mapping[str, Any] | None = None) -> Any:
        if not isinstance(value, str):
            raise InvalidValue("must be text")
        if len(value) > MAX_TEXT:
            raise InvalidValue(f"at most {MAX_TEXT} characters")
        return value

    def is_empty(self, spec: QuestionSpec, value: Any) -> bool:
        return value is None or not str(value).strip()

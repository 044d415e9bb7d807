"""View models for the annotation page: pure functions from a dataset spec, a record and a
response to what the templates show (unit-tested without a server)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from claystream_common.datasets import DatasetSpec, QuestionSpec
from markupsafe import Markup

from claystream_annotate.services.datasets import render_markdown
from claystream_annotate.services.errors import Invalid

TRAIL_MAX = 20
HOTKEY_DIGITS = "123456789"


@dataclass
class OptionView:
    value: Any
    label: str
    checked: bool
    hotkey: str | None = None
    suggested: bool = False
    score: float | None = None


@dataclass
class QuestionView:
    name: str
    title: str
    type: str
    required: bool
    options: list[OptionView] = field(default_factory=list)
    text: str = ""
    suggestion: dict[str, Any] | None = None

    @property
    def input_id(self) -> str:
        return f"q-{self.name}"


def suggestions_of(record: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{question: {value, score, scores, agent, model_version}}`` whether stored as a dict or a list."""
    raw = record.get("suggestions") or {}
    if isinstance(raw, Mapping):
        return {str(k): dict(v) for k, v in raw.items() if isinstance(v, Mapping)}
    found: dict[str, dict[str, Any]] = {}
    for item in raw:
        if isinstance(item, Mapping) and "question" in item:
            found[str(item["question"])] = dict(item)
    return found


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def _option_score(suggestion: Mapping[str, Any] | None, value: Any) -> float | None:
    if not suggestion:
        return None
    scores = suggestion.get("scores") or {}
    if isinstance(scores, Mapping) and str(value) in scores:
        return float(scores[str(value)])
    if value in _as_list(suggestion.get("value")) and suggestion.get("score") is not None:
        return float(suggestion["score"])
    return None


def question_views(spec: DatasetSpec, record: Mapping[str, Any], answer: Mapping[str, Any] | None) -> list[QuestionView]:
    """Questions with the user's answer selected, else the suggestion pre-selected; digits 1–9 per question."""
    suggestions = suggestions_of(record)
    views: list[QuestionView] = []
    for question in spec.questions:
        suggestion = suggestions.get(question.name)
        if answer is not None and question.name in answer:
            chosen = answer.get(question.name)
        elif suggestion is not None:
            chosen = suggestion.get("value")
        else:
            chosen = None
        view = QuestionView(
            name=question.name,
            title=question.title or question.name.replace("_", " ").capitalize(),
            type=question.type,
            required=question.required,
            suggestion=suggestion,
        )
        if question.type == "text":
            view.text = "" if chosen is None else str(chosen)
        else:
            allowed = question.allowed_values() or []
            selected = {str(v) for v in _as_list(chosen)}
            suggested = {str(v) for v in _as_list(suggestion.get("value"))} if suggestion else set()
            for position, value in enumerate(allowed):
                view.options.append(
                    OptionView(
                        value=value,
                        label=str(value),
                        checked=str(value) in selected,
                        hotkey=HOTKEY_DIGITS[position] if position < len(HOTKEY_DIGITS) else None,
                        suggested=str(value) in suggested,
                        score=_option_score(suggestion, value),
                    )
                )
        views.append(view)
    return views


def _typed(question: QuestionSpec, raw: str) -> Any:
    if question.type == "rating":
        try:
            return int(raw)
        except ValueError:
            raise Invalid(f"values.{question.name}", f"must be an integer from 1 to {question.rating_max}") from None
    return raw


def values_from_form(spec: DatasetSpec, form: Mapping[str, Any] | Any) -> dict[str, Any]:
    """Form fields ``q.<question>`` → typed values (multi-label: every checked box; empty → absent)."""
    values: dict[str, Any] = {}
    for question in spec.questions:
        key = f"q.{question.name}"
        if question.type == "multi_label":
            items = form.getlist(key) if hasattr(form, "getlist") else _as_list(form.get(key))
            chosen = [str(v) for v in items if str(v)]
            if chosen or key + ".present" in form:
                values[question.name] = chosen
            continue
        raw = form.get(key)
        if raw is None or (isinstance(raw, str) and raw.strip() == "" and question.type != "text"):
            continue
        if question.type == "text" and not str(raw).strip():
            continue
        values[question.name] = _typed(question, str(raw))
    return values


def markdown_html(text: Any) -> Markup:
    """A ``use_markdown`` field's text as sanitised HTML (safe to insert: see ``render_markdown``)."""
    return Markup(render_markdown(str(text)))  # noqa: S704 - sanitised by nh3, raw HTML disabled


def field_views(spec: DatasetSpec, record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The fields to show; ``html`` is set (sanitised Markdown) for fields with ``use_markdown``."""
    fields = record.get("fields") or {}
    views = [
        {"name": f.name, "title": f.title or f.name.replace("_", " "), "text": fields.get(f.name),
         "html": markdown_html(fields[f.name]) if f.use_markdown else None}
        for f in spec.fields
        if fields.get(f.name) not in (None, "")
    ]
    known = {f.name for f in spec.fields}
    views.extend({"name": k, "title": k, "text": v} for k, v in fields.items() if k not in known and isinstance(v, str))
    return views


def metadata_items(record: Mapping[str, Any], limit: int = 12) -> list[tuple[str, str]]:
    metadata = record.get("metadata") or {}
    items = [(str(k), str(v)) for k, v in metadata.items() if not isinstance(v, dict | list)]
    return items[:limit]


def parse_trail(raw: str | None) -> list[str]:
    """A comma-separated list of record ids (previous or next records), bounded."""
    if not raw:
        return []
    return [part for part in (p.strip() for p in raw.split(",")) if part and len(part) <= 64][:TRAIL_MAX]


def join_trail(ids: Sequence[str]) -> str:
    return ",".join(list(dict.fromkeys(ids))[:TRAIL_MAX])


def training_view(events: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The latest training state from recent ``models`` events (newest first)."""
    if not events:
        return {"state": "idle", "running": False}
    latest = events[0]
    data = latest.get("data") or {}
    kind = latest.get("type")
    promoted = next((e for e in events if e.get("type") == "model.promoted"), None)
    view: dict[str, Any] = {
        "state": "idle",
        "running": False,
        "kind": data.get("kind"),
        "at": latest.get("occurred_at"),
        "model_version": (promoted or {}).get("data", {}).get("model_version"),
        "metrics": (promoted or {}).get("data", {}).get("metrics") or {},
    }
    if kind in ("training.started", "training.progress"):
        view.update(state="running", running=True, step=data.get("step", 0), total=data.get("total_steps") or 0, eta_s=data.get("eta_s"))
    elif kind == "training.failed":
        view.update(state="failed", error=str(data.get("error", ""))[:300])
    elif kind in ("model.trained", "model.promoted"):
        view.update(state="ok", model_version=data.get("model_version") or view["model_version"])
        if kind == "model.trained":
            view["metrics"] = data.get("metrics") or view["metrics"]
    return view

"""The question-type registry: settings, normal forms, refusals and agreement measures."""

from __future__ import annotations

import random

import krippendorff
import numpy as np
import pytest
from claystream_common.datasets import DatasetSpec, QuestionSpec
from claystream_common.questions import QUESTION_TYPES, InvalidValue, question_type
from claystream_common.questions.agreement import kendalls_w, krippendorff_alpha, span_f1
from pydantic import ValidationError

SPAN = QuestionSpec(name="entities", type="span", labels=["PER", "LOC"], field="text")
OVERLAPPING = SPAN.model_copy(update={"allow_overlap": True})
RANKING = QuestionSpec(name="order", type="ranking", labels=["a", "b", "c"])
TEXT = {"text": "Ada met Bob in Paris"}


def test_every_registered_type_names_a_partial_and_a_title() -> None:
    for name, kind in QUESTION_TYPES.items():
        assert kind.name == name and kind.partial.startswith("questions/") and kind.title
    assert question_type("label").training_kind == "single_label"
    assert question_type("multi_label").training_kind == "multi_label"
    assert question_type("rating").training_kind == "ordinal"
    assert {question_type(t).training_kind for t in ("text", "span", "ranking")} == {None}


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ({"type": "span", "labels": ["PER", "LOC"]}, "field"),
        ({"type": "span", "labels": ["PER"], "field": "text"}, "two distinct labels"),
        ({"type": "ranking", "labels": ["a", "a"]}, "two distinct labels"),
        ({"type": "rating"}, "rating_max"),
        ({"type": "poll"}, "registered question type"),
    ],
)
def test_settings_are_checked_by_the_type(question: dict, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        QuestionSpec.model_validate({"name": "q", **question})
    assert reason in str(caught.value)


def test_a_span_question_must_point_into_a_dataset_field() -> None:
    with pytest.raises(ValidationError, match="field 'body'"):
        DatasetSpec(id="1", workspace="w", name="d", fields=[{"name": "text"}],
                    questions=[{"name": "e", "type": "span", "labels": ["A", "B"], "field": "body"}])


def test_spans_are_sorted_and_repeats_folded() -> None:
    value = [{"start": 15, "end": 20, "label": "LOC"}, {"start": 0, "end": 3, "label": "PER"}, {"start": 0, "end": 3, "label": "PER"}]
    assert question_type(SPAN).normalise(SPAN, value, TEXT) == [
        {"start": 0, "end": 3, "label": "PER"}, {"start": 15, "end": 20, "label": "LOC"}
    ]
    exported = question_type(SPAN).export_value(SPAN, question_type(SPAN).normalise(SPAN, value, TEXT), TEXT)
    assert [s["text"] for s in exported] == ["Ada", "Paris"]


@pytest.mark.parametrize(
    ("spans", "text", "reason"),
    [
        ([{"start": 15, "end": 21, "label": "LOC"}], TEXT, "span 0 (15–21 'LOC'): outside the text"),
        ([{"start": -1, "end": 2, "label": "PER"}], TEXT, "outside the text"),
        ([{"start": 3, "end": 3, "label": "PER"}], TEXT, "outside the text"),
        ([{"start": 0, "end": 3, "label": "ORG"}], TEXT, "span 0 (0–3 'ORG'): unknown label"),
        ([{"start": 0, "end": "3", "label": "PER"}], TEXT, "integers"),
        ([{"start": 0, "end": 3}], TEXT, "unknown label"),
        ([{"start": 0, "end": 7, "label": "PER"}, {"start": 4, "end": 11, "label": "PER"}], TEXT, "overlaps span 0–7"),
        ([{"start": 0, "end": 1, "label": "PER"}], {"text": "e\u0301t\u00e9"}, "not on a character boundary"),
        ("Ada", TEXT, "must be a list of spans"),
    ],
)
def test_bad_spans_name_the_span_and_the_reason(spans: object, text: dict, reason: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        question_type(SPAN).normalise(SPAN, spans, text)
    assert reason in caught.value.reason


def test_overlap_is_allowed_when_the_question_says_so() -> None:
    spans = [{"start": 0, "end": 7, "label": "PER"}, {"start": 4, "end": 11, "label": "LOC"}]
    assert len(question_type(OVERLAPPING).normalise(OVERLAPPING, spans, TEXT)) == 2


@pytest.mark.parametrize(
    ("order", "reason"),
    [(["a", "b"], "missing ['c']"), (["a", "b", "b", "c"], "ties are not allowed"), (["a", "b", "z"], "unknown options"), ("abc", "list")],
)
def test_rankings_order_every_option_once(order: object, reason: str) -> None:
    with pytest.raises(InvalidValue, match=reason.replace("[", r"\[").replace("]", r"\]")):
        question_type(RANKING).normalise(RANKING, order)
    assert question_type(RANKING).normalise(RANKING, ["c", "a", "b"]) == ["c", "a", "b"]


def test_alpha_matches_the_reference_implementation_at_every_level() -> None:
    rng = random.Random(7)
    for level in ("nominal", "ordinal", "interval"):
        matrix = [[rng.choice([None, 1, 2, 3, 4, 5]) for _ in range(40)] for _ in range(3)]
        units = [[row[u] for row in matrix if row[u] is not None] for u in range(40)]
        reference = krippendorff.alpha(
            reliability_data=np.array([[np.nan if v is None else v for v in row] for row in matrix], dtype=float),
            level_of_measurement=level,
        )
        assert krippendorff_alpha(units, level) == pytest.approx(reference, abs=1e-9)


def test_kendalls_w() -> None:
    assert kendalls_w([["a", "b", "c"], ["a", "b", "c"], ["a", "b", "c"]]) == pytest.approx(1.0)
    assert kendalls_w([["a", "b", "c"], ["c", "b", "a"]]) == pytest.approx(0.0)
    # 3 judges, 4 options: rank sums 4, 7, 8, 11 → S = 25, W = 12·25 / (9·60) = 0.5556
    w = kendalls_w([["a", "b", "c", "d"], ["a", "c", "b", "d"], ["b", "a", "d", "c"]])
    assert w == pytest.approx(12 * ((4 - 7.5) ** 2 + (6 - 7.5) ** 2 + (9 - 7.5) ** 2 + (11 - 7.5) ** 2) / (9 * 60))
    assert kendalls_w([["a", "b"]]) is None


def test_span_f1_and_the_span_agreement() -> None:
    a = {(0, 3, "PER"), (15, 20, "LOC")}
    b = {(0, 3, "PER"), (8, 11, "PER")}
    assert span_f1([[a, b]]) == pytest.approx(0.5)
    assert span_f1([[set(), set()]]) is None
    units = {"r1": {"x": [{"start": 0, "end": 3, "label": "PER"}], "y": [{"start": 0, "end": 3, "label": "PER"}]}, "r2": {"x": []}}
    agreement = question_type(SPAN).agreement(SPAN, units)
    assert (agreement.measure, agreement.value, agreement.records) == ("span F1 (exact)", 1.0, 1)


def test_ranking_agreement_is_kendalls_w_averaged_over_records() -> None:
    units = {"r1": {"x": ["a", "b", "c"], "y": ["a", "b", "c"]}, "r2": {"x": ["a", "b", "c"], "y": ["c", "b", "a"]}}
    agreement = question_type(RANKING).agreement(RANKING, units)
    assert agreement.measure == "Kendall's W" and agreement.value == pytest.approx(0.5) and agreement.records == 2


@pytest.mark.parametrize("kind", ["label", "multi_label", "ranking", "span"])
def test_a_question_is_written_with_at_most_500_labels_and_read_with_any(kind: str) -> None:
    extra = {"field": "text"} if kind == "span" else {}

    def spec(labels: int) -> DatasetSpec:
        return DatasetSpec.model_validate({"id": "d", "workspace": "w", "name": "n", "fields": [{"name": "text"}], "questions": [
            {"name": "q", "type": kind, "labels": [f"l{i}" for i in range(labels)], **extra}]})

    assert spec(500).settings_problem() is None
    assert spec(501).settings_problem() == ("questions.0.labels", "at most 500 labels, not 501")  # stored before: still loads


def test_large_answers_are_checked_in_linear_time() -> None:
    """20,000 labels against 5,000 chosen took seconds per value (a list scan per label), blocking the loop."""
    import time

    many = QuestionSpec.model_construct(name="q", type="multi_label", labels=[f"m{i}" for i in range(20_000)])  # stored before the cap
    chosen = [f"m{i}" for i in range(0, 20_000, 4)]
    ranking = QuestionSpec.model_construct(name="r", type="ranking", labels=[f"m{i}" for i in range(20_000)])
    started = time.perf_counter()
    assert question_type(many).normalise(many, list(reversed(chosen))) == chosen
    assert question_type(ranking).normalise(ranking, list(reversed(ranking.labels)))[0] == "m19999"
    assert time.perf_counter() - started < 2.0  # linear: ~0.02 s; the list scans took ~30 s


def test_ranking_agreement_counts_only_the_records_it_could_average() -> None:
    """A record whose two rankings do not cover the same options has no W: it was left out of the mean but still
    counted in ``records``."""
    units = {"r1": {"x": ["a", "b", "c"], "y": ["a", "b", "c"]}, "r2": {"x": ["a", "b", "c"], "y": ["c", "b", "a", "d"]}}
    agreement = question_type(RANKING).agreement(RANKING, units)
    assert agreement.value == pytest.approx(1.0) and agreement.records == 1


def test_multi_label_agreement_tells_a_label_with_a_bar_from_two_labels() -> None:
    """Sets were coded as "|".join(labels): ["a|b"] and ["a", "b"] agreed."""
    question = QuestionSpec(name="tags", type="multi_label", labels=["a|b", "a", "b"])
    units = {"p0": {"x": ["a|b"], "y": ["a", "b"]}, "p1": {"x": ["a"], "y": ["a"]}, "p2": {"x": ["b"], "y": ["b"]}}
    agreement = question_type(question).agreement(question, units)
    assert agreement.records == 3 and agreement.value is not None and agreement.value < 1.0


@pytest.mark.parametrize("labels", [["", "x"], [" ", "x"], ["x", "x "], [" y", "x"]])
def test_a_blank_label_or_one_with_spaces_around_it_is_refused_when_written(labels: list[str]) -> None:
    spec = DatasetSpec.model_validate({"id": "d", "workspace": "w", "name": "n", "fields": [{"name": "text"}],
                                       "questions": [{"name": "q", "type": "label", "labels": labels}]})
    field, reason = spec.settings_problem() or ("", "")
    assert field == "questions.0.labels" and "blank nor start or end with a space" in reason


def test_a_dataset_declares_a_bounded_number_of_fields_and_questions() -> None:
    def spec(**counts: int) -> DatasetSpec:
        return DatasetSpec.model_validate({
            "id": "d", "workspace": "w", "name": "n",
            "fields": [{"name": f"f{i}"} for i in range(counts.get("fields", 1))],
            "questions": [{"name": f"q{i}", "type": "text"} for i in range(counts.get("questions", 1))]})

    assert spec(fields=100, questions=100).settings_problem() is None
    assert spec(questions=5000).settings_problem() == ("questions", "at most 100, not 5000")
    assert spec(fields=101).settings_problem() == ("fields", "at most 100, not 101")
    assert spec(questions=101).settings_problem(before=spec(questions=101)) is None  # stored before the cap: editable

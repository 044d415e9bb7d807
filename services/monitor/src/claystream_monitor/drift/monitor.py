"""One model version's live state: its reference, a sliding event window, the checks and their alerts.

Pure and synchronous (no I/O): the service layer feeds it observations and feedback, persists
what it returns and publishes the alert transitions.

* Event windows: the last ``window_size`` predictions, evaluated every ``stride`` predictions.
* Multiplicity: every check runs at ``alpha / number_of_checks`` (Bonferroni over the family of
  checks a model has), and an alert needs ``raise_after`` breaching evaluations in a row.
"""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from claystream_monitor.drift import statistics as st
from claystream_monitor.drift.hysteresis import AlertState, HysteresisPolicy, Transition
from claystream_monitor.drift.reference import Embed, Observation, Reference, build_reference
from claystream_monitor.drift.text import text_feature

MULTI_LABEL_CHECK = "label_rates"  # joins the family of checks only for models that predict label sets
PREDICTION_CHECKS = ("label_distribution", "score_distribution", "text_length", "oov_share", "embedding_drift", "low_confidence")
ALL_CHECKS = (*PREDICTION_CHECKS, "accuracy")


@dataclass(frozen=True)
class DriftConfig:
    window_size: int = 200
    stride: int = 100
    reference_size: int = 1000
    alpha: float = 0.01
    low_confidence: float = 0.6
    embedding_every: int = 2
    embedding_reference_sample: int = 300
    min_auc: float = 0.55
    feedback_window: int = 200
    feedback_stride: int = 50
    feedback_reference_size: int = 200
    checks: tuple[str, ...] = ALL_CHECKS
    hysteresis: HysteresisPolicy = field(default_factory=HysteresisPolicy)

    @property
    def check_alpha(self) -> float:
        """Bonferroni: the family-wise level ``alpha`` shared by every check of a model."""
        return self.alpha / max(1, len(self.checks))


@dataclass(frozen=True, slots=True)
class _Seen:
    observation: Observation
    length: int
    oov: float


@dataclass(frozen=True)
class Evaluation:
    kind: str  # "predictions" | "feedback"
    index: int
    events_seen: int
    window_size: int
    results: list[st.CheckResult]
    transitions: list[tuple[Transition, st.CheckResult]]
    summary: dict[str, Any]
    alerting: list[str]
    run_id: str = ""  # the monitor's lifetime (see ModelMonitor.run_id): with ``index``, names this evaluation
    # set when this evaluation routes samples back to annotators (``routes_samples``): the newest events of its
    # window, those of the evaluations whose consecutive breaches raise an alert.  Taken here, not at the end of
    # the consumer batch, so what is sampled does not depend on where the stream was cut into batches.
    affected: tuple[Observation, ...] = ()


@dataclass
class ModelMonitor:
    workspace: str | None
    model: str
    version: str | None
    config: DriftConfig
    reference: Reference | None = None
    reference_accuracy: float | None = None
    events_seen: int = 0
    evaluations: int = 0
    # one per window history: kept by checkpoints, new when a model starts over (a deleted and re-created
    # dataset), so (run_id, index) names an evaluation and its alerts for good (idempotent re-writes)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    _pending_reference: list[Observation] = field(default_factory=list)
    _window: deque[_Seen] = field(init=False)
    _since_evaluation: int = 0
    _states: dict[str, AlertState] = field(default_factory=dict)
    _feedback: deque[tuple[str, str]] = field(init=False)
    _feedback_reference: list[tuple[str, str]] = field(default_factory=list)
    _feedback_seen: int = 0
    _since_feedback_evaluation: int = 0

    def __post_init__(self) -> None:
        self._window = deque(maxlen=self.config.window_size)
        self._feedback = deque(maxlen=self.config.feedback_window)
        self._states = {check: AlertState(self.config.hysteresis) for check in self.config.checks}

    # ------------------------------------------------------------------ state
    @property
    def reference_ready(self) -> bool:
        return self.reference is not None

    def alerting(self) -> list[str]:
        return [check for check, state in self._states.items() if state.alerting]

    def alert_states(self) -> dict[str, dict[str, int | bool]]:
        return {check: state.as_dict() for check, state in self._states.items()}

    @property
    def multi_label(self) -> bool:
        return self.reference is not None and self.reference.label_rates is not None

    def check_alpha(self) -> float:
        """Bonferroni over this model's checks (a multi-label model has one more: each label's rate)."""
        return self.config.alpha / (len(self.config.checks) + (1 if self.multi_label else 0))

    def restore_alert_states(self, states: dict[str, dict[str, int | bool]]) -> None:
        for check, data in states.items():
            if check == MULTI_LABEL_CHECK:
                self._states[check] = AlertState.from_dict(self.config.hysteresis, data)
            elif check in self._states:
                self._states[check] = AlertState.from_dict(self.config.hysteresis, data)

    # ------------------------------------------------------------------ checkpoint (see services/checkpoints.py)
    def snapshot(self) -> dict[str, Any]:
        """Everything the windows hold, as a document (the reference is stored on its own)."""
        def obs(o: Observation) -> list[Any]:
            return [o.request_id, o.label, None if math.isnan(o.score) else o.score, o.text,
                    None if o.labels is None else list(o.labels)]

        return {
            "events_seen": self.events_seen, "evaluations": self.evaluations, "run_id": self.run_id,
            "pending_reference": [obs(o) for o in self._pending_reference],
            "window": [[*obs(s.observation), s.length, s.oov] for s in self._window],
            "since_evaluation": self._since_evaluation, "alert_states": self.alert_states(),
            "feedback": [list(p) for p in self._feedback], "feedback_reference": [list(p) for p in self._feedback_reference],
            "feedback_seen": self._feedback_seen, "since_feedback_evaluation": self._since_feedback_evaluation,
        }

    def restore_snapshot(self, state: dict[str, Any]) -> None:
        def obs(row: list[Any]) -> Observation:
            labels = None if row[4] is None else tuple(str(label) for label in row[4])
            return Observation(str(row[0]), str(row[1]), math.nan if row[2] is None else float(row[2]), str(row[3]), labels)

        self.events_seen, self.evaluations = int(state["events_seen"]), int(state["evaluations"])
        self.run_id = str(state.get("run_id", ""))  # checkpoints from before run ids: ""
        if self.reference is None:
            self._pending_reference = [obs(row) for row in state["pending_reference"]]
        self._window.clear()
        self._window.extend(_Seen(obs(row), int(row[5]), float(row[6])) for row in state["window"])
        self._since_evaluation = int(state["since_evaluation"])
        self.restore_alert_states(state["alert_states"])
        self._feedback.clear()
        self._feedback.extend((str(t), str(p)) for t, p in state["feedback"])
        self._feedback_reference = [(str(t), str(p)) for t, p in state["feedback_reference"]]
        self._feedback_seen = int(state["feedback_seen"])
        self._since_feedback_evaluation = int(state["since_feedback_evaluation"])

    def window_observations(self) -> list[Observation]:
        return [seen.observation for seen in self._window]

    def use_reference(self, reference: Reference) -> None:
        self.reference = reference
        self._pending_reference.clear()
        if reference.label_rates is not None:
            self._states.setdefault(MULTI_LABEL_CHECK, AlertState(self.config.hysteresis))

    # ------------------------------------------------------------------ predictions
    def observe(
        self, observations: Sequence[Observation], *, embed: Embed | None = None,
        features: Sequence[tuple[int, float]] | None = None,
    ) -> tuple[list[Evaluation], Reference | None]:
        """Feed predictions in arrival order; returns the window evaluations they completed and the
        reference if these observations completed it.  ``features``: the texts' ``text_features`` under the
        vocabulary of the reference in use, measured beforehand (in another process); without them the
        texts are measured here."""
        if features is not None and (self.reference is None or len(features) != len(observations)):
            raise ValueError("features are measured under the reference in use, one (length, oov) pair per observation")
        evaluations: list[Evaluation] = []
        frozen: Reference | None = None
        vocabulary = self.reference.vocabulary if self.reference is not None else None
        for position, observation in enumerate(observations):
            self.events_seen += 1
            if self.reference is None:
                self._pending_reference.append(observation)
                if len(self._pending_reference) >= self.config.reference_size:
                    frozen = build_reference(
                        self._pending_reference, source="first_window", low_confidence=self.config.low_confidence,
                        embed=embed if "embedding_drift" in self.config.checks else None,
                        embedding_sample=self.config.embedding_reference_sample,
                    )
                    self.use_reference(frozen)
                    vocabulary = frozen.vocabulary
                continue
            length, oov = (features[position] if features is not None
                           else text_feature(observation.text, vocabulary or frozenset()))
            self._window.append(_Seen(observation, length, oov))
            self._since_evaluation += 1
            if len(self._window) >= self.config.window_size and self._since_evaluation >= self.config.stride:
                evaluations.append(self._evaluate(embed))
        return evaluations, frozen

    def _evaluate(self, embed: Embed | None) -> Evaluation:
        reference = self.reference
        assert reference is not None
        self._since_evaluation = 0
        self.evaluations += 1
        alpha = self.check_alpha()
        window = list(self._window)
        labels = Counter(seen.observation.label for seen in window)
        scores = np.array([seen.observation.score for seen in window], float)
        scores = scores[~np.isnan(scores)]
        low_hits = int(np.sum(scores < self.config.low_confidence))
        checks = self.config.checks
        results: list[st.CheckResult] = []
        if "label_distribution" in checks:
            results.append(st.label_distribution(labels, reference.label_counts, alpha=alpha))
        if "score_distribution" in checks and len(scores) and len(reference.scores):
            results.append(st.two_sample_ks("score_distribution", scores, reference.scores, alpha=alpha))
        if "text_length" in checks:
            results.append(st.two_sample_ks("text_length", [s.length for s in window], reference.lengths, alpha=alpha))
        if "oov_share" in checks:
            results.append(st.stochastically_greater("oov_share", [s.oov for s in window], reference.oov_baseline, alpha=alpha))
        if (
            "embedding_drift" in checks and embed is not None and reference.embeddings is not None
            and self.evaluations % self.config.embedding_every == 0
        ):
            vectors = np.asarray(embed([s.observation.text for s in window]), np.float32)
            results.append(st.embedding_domain_classifier(vectors, reference.embeddings, alpha=alpha,
                                                          min_auc=self.config.min_auc, seed=self.evaluations))
        if "low_confidence" in checks and len(scores) and len(reference.scores):
            results.append(st.share_increase("low_confidence", low_hits, len(scores), reference.low_confidence_hits,
                                             len(reference.scores), alpha=alpha))
        if reference.label_rates is not None:
            rates = Counter(label for seen in window for label in seen.observation.labels or ())
            results.append(st.label_rates(rates, len(window), reference.label_rates, reference.size, alpha=alpha))
        summary = {
            "label_counts": dict(labels),
            "mean_score": float(scores.mean()) if len(scores) else None,
            "low_confidence_share": low_hits / len(scores) if len(scores) else None,
            "mean_length": float(np.mean([s.length for s in window])),
        }
        if reference.label_rates is not None:
            summary["label_rates"] = {label: round(n / len(window), 4) for label, n in sorted(rates.items())}
        evaluation = self._conclude("predictions", self.events_seen, len(window), results, summary)
        if self.routes_samples(evaluation):
            newest = window[-min(len(window), self.config.stride * self.config.hysteresis.raise_after):]
            evaluation = dataclasses.replace(evaluation, affected=tuple(seen.observation for seen in newest))
        return evaluation

    def routes_samples(self, evaluation: Evaluation) -> bool:
        """A prediction evaluation that raised an alert, or, while one is on, each that sees a fresh window."""
        if evaluation.kind != "predictions":
            return False
        if any(transition is Transition.DETECTED for transition, _ in evaluation.transitions):
            return True
        fresh_window = max(1, self.config.window_size // max(1, self.config.stride))
        return bool(evaluation.alerting) and evaluation.index % fresh_window == 0

    def _conclude(self, kind: str, events_seen: int, size: int, results: list[st.CheckResult], summary: dict[str, Any]) -> Evaluation:
        transitions = []
        for result in results:
            transition = self._states[result.check].update(breached=result.breached, p_value=result.p_value)
            if transition is not None:
                transitions.append((transition, result))
        return Evaluation(kind, self.evaluations, events_seen, size, results, transitions, summary, self.alerting(), self.run_id)

    # ------------------------------------------------------------------ feedback
    def observe_feedback(self, pairs: Sequence[tuple[str, str]]) -> list[Evaluation]:
        """Feed joined (true label, predicted label) pairs; returns accuracy evaluations."""
        evaluations: list[Evaluation] = []
        if "accuracy" not in self.config.checks:
            return evaluations
        for pair in pairs:
            self._feedback_seen += 1
            if self.reference_accuracy is None and len(self._feedback_reference) < self.config.feedback_reference_size:
                self._feedback_reference.append(pair)
                continue
            self._feedback.append(pair)
            self._since_feedback_evaluation += 1
            if len(self._feedback) >= self.config.feedback_window and self._since_feedback_evaluation >= self.config.feedback_stride:
                evaluations.append(self._evaluate_feedback())
        return evaluations

    def _evaluate_feedback(self) -> Evaluation:
        self._since_feedback_evaluation = 0
        self.evaluations += 1
        window = list(self._feedback)
        correct = sum(1 for truth, predicted in window if truth == predicted)
        reference_correct = sum(1 for truth, predicted in self._feedback_reference if truth == predicted)
        result = st.accuracy_drop(
            correct, len(window), alpha=self.check_alpha(),
            reference_correct=reference_correct if self.reference_accuracy is None else None,
            reference_n=len(self._feedback_reference) if self.reference_accuracy is None else None,
            reference_accuracy=self.reference_accuracy,
        )
        f1, (f1_low, f1_high) = st.macro_f1_interval([t for t, _ in window], [p for _, p in window])
        low, high = st.wilson_interval(correct, len(window))
        summary = {"accuracy": correct / len(window), "accuracy_ci": [low, high], "macro_f1": f1,
                   "macro_f1_ci": [f1_low, f1_high], "n": len(window)}
        return self._conclude("feedback", self._feedback_seen, len(window), [result], summary)


def is_finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)

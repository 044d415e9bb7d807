"""The drift checks: each compares a window with the reference using a scipy / scikit-learn test.

Every check returns a :class:`CheckResult` whose ``statistic`` is compared with a ``threshold``
(the critical value of that statistic at the given significance level, or an effect-size floor)
and, where the test has one, a ``p_value``.  ``breached`` is decided by the p-value (and the effect
floor), the threshold is there so dashboards can draw "score against threshold" lines.
Significance levels passed in are already corrected for multiplicity by the caller.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon
from sklearn import config_context
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.random_projection import GaussianRandomProjection


def _one_dimensional(test: Any) -> Any:
    """The test without scipy's ``axis``/``nan_policy`` layer, which broadcasts and scans its inputs on every call
    and costs as much as the test itself on a 200-value window (the monitor runs several a window, thousands a
    minute).  Only for 1-D arrays of finite values, which is all the checks pass; the unit tests pin that it
    returns what the public function returns."""
    return getattr(test, "__wrapped__", test)


_ks_2samp = _one_dimensional(stats.ks_2samp)
_mannwhitneyu = _one_dimensional(stats.mannwhitneyu)


# The critical values drawn next to the statistics depend only on the significance level and the sizes, which stay
# the same from one window to the next: each costs ~60 µs through scipy's distribution layer, computed once here.
@functools.lru_cache(maxsize=256)
def _chi2_critical(alpha: float, dof: int) -> float:
    return float(stats.chi2.isf(alpha, dof))


@functools.lru_cache(maxsize=256)
def _normal_critical(alpha: float) -> float:
    return float(stats.norm.isf(alpha))


@functools.lru_cache(maxsize=256)
def _binomial_critical(alpha: float, n: int, share: float) -> float:
    return float(stats.binom.isf(alpha, n, share))


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: str
    statistic: float
    threshold: float
    p_value: float | None
    breached: bool
    evidence: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "statistic": self.statistic,
            "threshold": self.threshold,
            "p_value": self.p_value,
            "breached": self.breached,
            "evidence": self.evidence,
        }


def _rounded(values: Mapping[str, float]) -> dict[str, float]:
    return {key: round(float(value), 4) for key, value in values.items()}


# --------------------------------------------------------------------------- prediction drift
def label_distribution(window: Mapping[str, int], reference: Mapping[str, int], *, alpha: float) -> CheckResult:
    """Chi-square test of homogeneity (window vs reference counts) plus the Jensen-Shannon distance."""
    labels = sorted(label for label in set(window) | set(reference) if window.get(label, 0) + reference.get(label, 0) > 0)
    table = np.array([[window.get(label, 0) for label in labels], [reference.get(label, 0) for label in labels]], float)
    window_share = table[0] / max(table[0].sum(), 1.0)
    reference_share = table[1] / max(table[1].sum(), 1.0)
    js = float(jensenshannon(window_share, reference_share, base=2)) if len(labels) > 1 else 0.0
    evidence = {
        "window_share": _rounded(dict(zip(labels, window_share, strict=True))),
        "reference_share": _rounded(dict(zip(labels, reference_share, strict=True))),
        "js_distance": round(js, 4),
    }
    if len(labels) < 2 or table[0].sum() == 0 or table[1].sum() == 0:
        return CheckResult("label_distribution", 0.0, math.inf, 1.0, False, evidence)
    chi2, p_value, dof, _ = stats.chi2_contingency(table, correction=False)
    threshold = _chi2_critical(alpha, int(dof))
    return CheckResult("label_distribution", float(chi2), threshold, float(p_value), bool(p_value < alpha), evidence)


def label_rates(window: Mapping[str, int], window_n: int, reference: Mapping[str, int], reference_n: int, *,
                alpha: float) -> CheckResult:
    """Multi-label models: has the rate of any label changed?  A two-sided Fisher exact test per label
    (window vs reference share of predictions carrying it), Bonferroni over the labels.  Statistic: the
    largest absolute change of a rate; p-value: the smallest, times the number of labels."""
    labels = sorted(label for label in set(window) | set(reference) if window.get(label, 0) + reference.get(label, 0))
    if not labels or window_n == 0 or reference_n == 0:
        return CheckResult("label_rates", 0.0, math.inf, 1.0, False, {"reason": "no data"})
    per_label: dict[str, dict[str, float]] = {}
    for label in labels:
        hits, base = window.get(label, 0), reference.get(label, 0)
        table = [[hits, window_n - hits], [base, reference_n - base]]
        per_label[label] = {"window_rate": round(hits / window_n, 4), "reference_rate": round(base / reference_n, 4),
                            "p_value": float(stats.fisher_exact(table, alternative="two-sided").pvalue)}
    per_label_alpha = alpha / len(labels)
    drifted = [label for label, figures in per_label.items() if figures["p_value"] < per_label_alpha]
    change = max(abs(f["window_rate"] - f["reference_rate"]) for f in per_label.values())
    p_value = min(1.0, min(f["p_value"] for f in per_label.values()) * len(labels))
    evidence = {"labels": per_label, "drifted": drifted, "window_n": window_n}
    return CheckResult("label_rates", float(change), math.nan, p_value, bool(drifted), evidence)


def _ks_critical(n: int, m: int, alpha: float) -> float:
    """Asymptotic two-sample Kolmogorov-Smirnov critical value (for display next to D)."""
    return math.sqrt(-math.log(alpha / 2) / 2) * math.sqrt((n + m) / (n * m))


def two_sample_ks(check: str, window: Sequence[float], reference: Sequence[float], *, alpha: float) -> CheckResult:
    """Two-sample Kolmogorov-Smirnov test; the Wasserstein distance goes to the evidence."""
    window_values = np.asarray(window, float)
    reference_values = np.asarray(reference, float)
    if len(window_values) < 2 or len(reference_values) < 2:
        return CheckResult(check, 0.0, math.inf, 1.0, False, {"reason": "too few values"})
    result = _ks_2samp(window_values, reference_values)
    evidence = {
        "wasserstein": round(float(stats.wasserstein_distance(window_values, reference_values)), 4),
        "window_mean": round(float(window_values.mean()), 4),
        "reference_mean": round(float(reference_values.mean()), 4),
        "window_median": round(float(np.median(window_values)), 4),
        "reference_median": round(float(np.median(reference_values)), 4),
    }
    threshold = _ks_critical(len(window_values), len(reference_values), alpha)
    p_value = float(result.pvalue)
    return CheckResult(check, float(result.statistic), threshold, p_value, bool(p_value < alpha), evidence)


def _auc_critical(n: int, m: int, alpha: float) -> float:
    """One-sided critical value of U/(n*m) under H0 (normal approximation), for display."""
    return 0.5 + _normal_critical(alpha) * math.sqrt((n + m + 1) / (12 * n * m))


def stochastically_greater(
    check: str, window: Sequence[float], reference: Sequence[float], *, alpha: float, min_effect: float = 0.5
) -> CheckResult:
    """Mann-Whitney U (one-sided: window values tend to be larger); statistic = U / (n*m), an AUC."""
    window_values = np.asarray(window, float)
    reference_values = np.asarray(reference, float)
    n, m = len(window_values), len(reference_values)
    if n < 2 or m < 2:
        return CheckResult(check, 0.5, math.inf, 1.0, False, {"reason": "too few values"})
    result = _mannwhitneyu(window_values, reference_values, alternative="greater")
    effect = float(result.statistic) / (n * m)
    threshold = max(_auc_critical(n, m, alpha), min_effect)
    p_value = float(result.pvalue)
    evidence = {"window_mean": round(float(window_values.mean()), 4), "reference_mean": round(float(reference_values.mean()), 4)}
    return CheckResult(check, effect, threshold, p_value, bool(p_value < alpha and effect > min_effect), evidence)


# --------------------------------------------------------------------------- input drift
@functools.lru_cache(maxsize=8)
def _projection(n_features: int, dims: int) -> Any:
    """One fixed Gaussian random projection per input size (fitted once: only the shape matters)."""
    return GaussianRandomProjection(dims, random_state=0).fit(np.zeros((1, n_features), np.float32))


def embedding_domain_classifier(
    window: np.ndarray, reference: np.ndarray, *, alpha: float, min_auc: float = 0.55, test_share: float = 0.5, seed: int = 0,
    projected_dims: int | None = 48,
) -> CheckResult:
    """Can a classifier tell window embeddings from reference ones?  A classifier two-sample test.

    A logistic regression learns reference (0) vs window (1) on one stratified half; its ROC AUC on
    the held-out half is the statistic, and the one-sided Mann-Whitney test on the held-out scores
    (AUC = U / (n*m)) its p-value, which is exact because the held-out half was not trained on
    (Lopez-Paz & Oquab, 2017).  ``min_auc`` is an effect-size floor (Evidently's default is 0.55).
    Embeddings are first reduced by a fixed Gaussian random projection (``projected_dims``; distances
    are kept up to a small distortion, Johnson-Lindenstrauss), which makes the fit much cheaper.
    """
    n, m = len(window), len(reference)
    if n < 8 or m < 8:
        return CheckResult("embedding_drift", 0.5, math.inf, 1.0, False, {"reason": "too few embeddings"})
    features = np.vstack([reference, window]).astype(np.float32)
    target = np.concatenate([np.zeros(m, int), np.ones(n, int)])
    # scikit-learn's argument and finiteness validation cost more than the fit itself at this size (the
    # inputs are our own finite arrays); the split is the one train_test_split(stratify=...) draws
    with config_context(skip_parameter_validation=True, assume_finite=True):
        if projected_dims is not None and features.shape[1] > projected_dims:
            features = _projection(features.shape[1], projected_dims).transform(features)
        held_out = math.ceil(test_share * (n + m))
        fit_rows, test_rows = next(StratifiedShuffleSplit(
            n_splits=1, test_size=held_out, train_size=n + m - held_out, random_state=seed,
        ).split(features, target))
        x_fit, x_test, y_fit, y_test = features[fit_rows], features[test_rows], target[fit_rows], target[test_rows]
        classifier = LogisticRegression(C=1.0, solver="liblinear", max_iter=300, class_weight="balanced").fit(x_fit, y_fit)
        scores = classifier.decision_function(x_test)
    held_window, held_reference = scores[y_test == 1], scores[y_test == 0]
    held_out_test = _mannwhitneyu(held_window, held_reference, alternative="greater")
    auc = float(held_out_test.statistic) / (len(held_window) * len(held_reference))  # U / (n*m) is the ROC AUC, ties count half
    p_value = float(held_out_test.pvalue)
    threshold = max(_auc_critical(int(y_test.sum()), int((y_test == 0).sum()), alpha), min_auc)
    evidence = {"roc_auc": round(auc, 4), "window_size": n, "reference_size": m, "held_out": len(y_test)}
    return CheckResult("embedding_drift", auc, threshold, p_value, bool(p_value < alpha and auc > min_auc), evidence)


# --------------------------------------------------------------------------- performance
def share_increase(check: str, window_hits: int, window_n: int, reference_hits: int, reference_n: int, *, alpha: float) -> CheckResult:
    """One-sided Fisher exact test: is the share of hits (e.g. low-confidence predictions) higher now?"""
    if window_n == 0 or reference_n == 0:
        return CheckResult(check, 0.0, math.inf, 1.0, False, {"reason": "no data"})
    table = [[window_hits, window_n - window_hits], [reference_hits, reference_n - reference_hits]]
    result = stats.fisher_exact(table, alternative="greater")
    reference_share = reference_hits / reference_n
    critical_hits = _binomial_critical(alpha, window_n, min(max(reference_share, 1e-9), 1 - 1e-9))
    evidence = {"window_share": round(window_hits / window_n, 4), "reference_share": round(reference_share, 4), "window_n": window_n}
    p_value = float(result.pvalue)
    return CheckResult(check, window_hits / window_n, critical_hits / window_n, p_value, bool(p_value < alpha), evidence)


def wilson_interval(successes: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    interval = stats.binomtest(successes, n).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(interval.low), float(interval.high))


def _macro_f1_codes(truth: np.ndarray, predicted: np.ndarray, classes: int) -> float:
    """Macro-F1 from integer-coded labels via a confusion matrix (fast enough for bootstrap resamples)."""
    confusion = np.bincount(truth * classes + predicted, minlength=classes * classes).reshape(classes, classes)
    true_positive = np.diag(confusion).astype(float)
    denominator = confusion.sum(axis=0) + confusion.sum(axis=1)
    present = denominator > 0
    return float(np.mean(2 * true_positive[present] / denominator[present]))


def macro_f1_interval(
    y_true: Sequence[str], y_pred: Sequence[str], *, confidence: float = 0.95, resamples: int = 499, seed: int = 0
) -> tuple[float, tuple[float, float]]:
    """Macro-F1 (scikit-learn) and a percentile bootstrap interval (scipy.stats.bootstrap, paired resamples)."""
    from sklearn.metrics import f1_score

    value = float(f1_score(list(y_true), list(y_pred), average="macro", zero_division=0))
    names = sorted(set(y_true) | set(y_pred))
    if len(y_true) < 5 or len(names) < 2:
        return value, (value, value)
    code = {name: i for i, name in enumerate(names)}
    truth = np.array([code[v] for v in y_true])
    predicted = np.array([code[v] for v in y_pred])
    result = stats.bootstrap(
        (truth, predicted), lambda t, p: _macro_f1_codes(t, p, len(names)), paired=True, vectorized=False,
        n_resamples=resamples, confidence_level=confidence, method="percentile", random_state=seed,
    )
    return value, (float(result.confidence_interval.low), float(result.confidence_interval.high))


def accuracy_drop(
    correct: int, n: int, *, alpha: float, reference_correct: int | None = None, reference_n: int | None = None,
    reference_accuracy: float | None = None,
) -> CheckResult:
    """Is accuracy below the reference?  Fisher exact test against reference counts, else a binomial test
    against a reference accuracy (e.g. the validation accuracy the trainer reported)."""
    if n == 0:
        return CheckResult("accuracy", 0.0, math.inf, 1.0, False, {"reason": "no feedback"})
    accuracy = correct / n
    low, high = wilson_interval(correct, n)
    if reference_n:
        base = (reference_correct or 0) / reference_n
        p_value = float(stats.fisher_exact([[n - correct, correct], [reference_n - (reference_correct or 0), reference_correct or 0]],
                                           alternative="greater").pvalue)
    elif reference_accuracy is not None:
        base = reference_accuracy
        p_value = float(stats.binomtest(correct, n, min(max(base, 1e-9), 1 - 1e-9), alternative="less").pvalue)
    else:
        return CheckResult("accuracy", 0.0, math.inf, None, False, {"accuracy": round(accuracy, 4), "ci95": [low, high]})
    critical_correct = float(stats.binom.ppf(alpha, n, min(max(base, 1e-9), 1 - 1e-9)))
    evidence = {"accuracy": round(accuracy, 4), "ci95": [round(low, 4), round(high, 4)], "reference_accuracy": round(base, 4), "n": n}
    return CheckResult("accuracy", base - accuracy, base - critical_correct / n, p_value, bool(p_value < alpha), evidence)

"""Each statistic on synthetic data with a known answer: no drift stays quiet at the set level
over many seeds; a known shift is flagged."""

from __future__ import annotations

import numpy as np
import pytest
from claystream_monitor.drift import statistics as st
from claystream_monitor.drift.reference import build_reference
from claystream_monitor.drift.text import oov_share, tokenize
from monitor_synthetic import WORDS_B, stream, word_vector_embed
from scipy import stats

ALPHA = 0.05
SEEDS = 200


def _max_false_alarms(alpha: float = ALPHA, seeds: int = SEEDS) -> int:
    """Breaches allowed over ``seeds`` null runs before we call the test miscalibrated (99.9% binomial bound)."""
    return int(stats.binom.ppf(0.999, seeds, alpha))


def test_label_distribution_null_and_shift() -> None:
    rng = np.random.default_rng(1)
    false_alarms = 0
    for _ in range(SEEDS):
        reference = rng.multinomial(1000, [0.5, 0.3, 0.2])
        window = rng.multinomial(200, [0.5, 0.3, 0.2])
        result = st.label_distribution(dict(zip("abc", window)), dict(zip("abc", reference)), alpha=ALPHA)
        false_alarms += result.breached
    assert false_alarms <= _max_false_alarms()
    shifted = st.label_distribution({"a": 170, "b": 20, "c": 10}, {"a": 500, "b": 300, "c": 200}, alpha=ALPHA)
    assert shifted.breached and shifted.statistic > shifted.threshold and shifted.p_value < 1e-6
    assert shifted.evidence["js_distance"] > 0.1


def test_label_distribution_with_a_label_the_reference_never_saw() -> None:
    result = st.label_distribution({"a": 100, "b": 90, "new": 10}, {"a": 500, "b": 500}, alpha=ALPHA)
    assert result.breached and "new" in result.evidence["window_share"]


def test_ks_null_and_shift() -> None:
    rng = np.random.default_rng(2)
    false_alarms = sum(
        st.two_sample_ks("score_distribution", rng.beta(5, 2, 200), rng.beta(5, 2, 1000), alpha=ALPHA).breached
        for _ in range(SEEDS)
    )
    assert false_alarms <= _max_false_alarms()
    shifted = st.two_sample_ks("score_distribution", rng.beta(2, 2, 200), rng.beta(5, 2, 1000), alpha=ALPHA)
    assert shifted.breached and shifted.statistic > shifted.threshold
    assert shifted.evidence["wasserstein"] > 0.05


def test_mann_whitney_null_and_shift() -> None:
    rng = np.random.default_rng(3)
    false_alarms = sum(
        st.stochastically_greater("oov_share", rng.random(200), rng.random(500), alpha=ALPHA).breached for _ in range(SEEDS)
    )
    assert false_alarms <= _max_false_alarms()
    assert st.stochastically_greater("oov_share", rng.random(200) + 0.3, rng.random(500), alpha=ALPHA).breached
    # a decrease is not drift for a one-sided check
    assert not st.stochastically_greater("oov_share", rng.random(200) - 0.3, rng.random(500), alpha=ALPHA).breached


def test_oov_share_of_a_new_vocabulary() -> None:
    reference = build_reference(stream(400, seed=4), source="first_window", low_confidence=0.6, embed=None, embedding_sample=0)
    same = [oov_share(tokenize(o.text), reference.vocabulary) for o in stream(100, seed=5)]
    other = [oov_share(tokenize(o.text), reference.vocabulary) for o in stream(100, seed=6, words=WORDS_B)]
    assert np.mean(same) < 0.2 and np.mean(other) == 1.0
    assert not st.stochastically_greater("oov_share", same, reference.oov_baseline, alpha=ALPHA).breached
    assert st.stochastically_greater("oov_share", other, reference.oov_baseline, alpha=ALPHA).breached


def test_embedding_domain_classifier_null_and_shift() -> None:
    seeds = 40  # a cross-fitted classifier per seed: keep it quick
    false_alarms = 0
    for seed in range(seeds):
        rng = np.random.default_rng(seed)
        reference = rng.standard_normal((200, 16))
        window = rng.standard_normal((100, 16))
        false_alarms += st.embedding_domain_classifier(window, reference, alpha=ALPHA, seed=seed).breached
    assert false_alarms <= _max_false_alarms(seeds=seeds)
    reference = word_vector_embed([o.text for o in stream(200, seed=7)])
    shifted = word_vector_embed([o.text for o in stream(100, seed=8, words=WORDS_B)])
    result = st.embedding_domain_classifier(shifted, reference, alpha=ALPHA)
    assert result.breached and result.statistic > 0.9 and result.statistic > result.threshold


def test_embedding_domain_classifier_is_the_held_out_roc_auc_of_the_stratified_half_split() -> None:
    """The check skips scikit-learn's validation and reads the AUC off the Mann-Whitney U: it must still be the
    ROC AUC of a classifier fitted on exactly the half that ``train_test_split(stratify=...)`` draws."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    for seed, (n, m, shift) in enumerate([(100, 200, 0.0), (101, 300, 0.3), (57, 90, 1.0), (200, 300, 0.1)]):
        rng = np.random.default_rng(seed)
        reference = rng.standard_normal((m, 64)).astype(np.float32)
        window = (rng.standard_normal((n, 64)) + shift).astype(np.float32)
        features = st._projection(64, 48).transform(np.vstack([reference, window]))
        target = np.concatenate([np.zeros(m, int), np.ones(n, int)])
        x_fit, x_test, y_fit, y_test = train_test_split(features, target, test_size=0.5, stratify=target, random_state=seed)
        fitted = LogisticRegression(C=1.0, solver="liblinear", max_iter=300, class_weight="balanced").fit(x_fit, y_fit)
        expected = roc_auc_score(y_test, fitted.decision_function(x_test))
        result = st.embedding_domain_classifier(window, reference, alpha=ALPHA, seed=seed)
        assert result.statistic == pytest.approx(expected, abs=1e-12)
        assert result.evidence["held_out"] == len(y_test)


def test_the_checks_one_dimensional_tests_return_what_scipys_public_functions_return() -> None:
    """The checks call scipy's tests past their axis/NaN layer (statistics._one_dimensional): same values."""
    rng = np.random.default_rng(11)
    for n, m in [(2, 2), (200, 1000), (100, 150), (37, 300)]:
        for rounding in (None, 0):  # with and without ties
            a, b = rng.normal(0.1, 1, n), rng.normal(0, 1, m)
            if rounding is not None:
                a, b = np.round(a, rounding), np.round(b, rounding)
            assert st._ks_2samp(a, b) == stats.ks_2samp(a, b)
            assert st._mannwhitneyu(a, b, alternative="greater") == stats.mannwhitneyu(a, b, alternative="greater")


def test_share_increase_null_and_shift() -> None:
    rng = np.random.default_rng(9)
    false_alarms = sum(
        st.share_increase("low_confidence", rng.binomial(200, 0.1), 200, rng.binomial(1000, 0.1), 1000, alpha=ALPHA).breached
        for _ in range(SEEDS)
    )
    assert false_alarms <= _max_false_alarms()
    shifted = st.share_increase("low_confidence", 50, 200, 100, 1000, alpha=ALPHA)
    assert shifted.breached and shifted.statistic > shifted.threshold


def test_accuracy_drop_against_counts_and_against_a_validation_accuracy() -> None:
    rng = np.random.default_rng(10)
    false_alarms = sum(
        st.accuracy_drop(rng.binomial(200, 0.85), 200, alpha=ALPHA, reference_accuracy=0.85).breached for _ in range(SEEDS)
    )
    assert false_alarms <= _max_false_alarms()
    dropped = st.accuracy_drop(140, 200, alpha=ALPHA, reference_correct=170, reference_n=200)
    assert dropped.breached and dropped.evidence["accuracy"] == 0.7
    low, high = dropped.evidence["ci95"]
    assert low < 0.7 < high
    assert not st.accuracy_drop(175, 200, alpha=ALPHA, reference_correct=170, reference_n=200).breached


def test_intervals_cover_the_truth() -> None:
    low, high = st.wilson_interval(85, 100)
    assert low < 0.85 < high and high - low < 0.2
    truth = ["a"] * 50 + ["b"] * 50
    predicted = ["a"] * 45 + ["b"] * 5 + ["b"] * 40 + ["a"] * 10
    f1, (f1_low, f1_high) = st.macro_f1_interval(truth, predicted)
    assert f1 == pytest.approx(0.8496, abs=1e-3)
    assert f1_low < f1 < f1_high


def test_fast_macro_f1_agrees_with_scikit_learn() -> None:
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(11)
    truth = rng.integers(0, 3, 300)
    predicted = np.where(rng.random(300) < 0.7, truth, rng.integers(0, 3, 300))
    assert st._macro_f1_codes(truth, predicted, 3) == pytest.approx(f1_score(truth, predicted, average="macro"))


def test_tokens_are_the_runs_of_the_token_class_with_markup_dropped() -> None:
    """The byte-table tokenizer gives exactly what ``[a-z0-9']+`` on the lower-cased text without markup gives."""
    import re

    token, markup = re.compile(r"[a-z0-9']+"), re.compile(r"<[^>]{0,40}>")
    texts = ["İstanbul café <br />naïve 'quoted' ÀÉ x<y>z <" + "a" * 50 + "> tail", "ﬁne ß ẞ Ω 123abc<b>bold</b>", "",
             "<<>>", "a<>b", "日本語 text", "line\u2028break\ttab", "<é" + "x" * 39 + ">kept?", "<é" + "x" * 40 + ">two", "Don't STOP"]
    for text in texts:
        assert tokenize(text) == token.findall(markup.sub(" ", text.lower())), text
    assert tokenize("Great<br /><br />FILM, isn't it?") == ["great", "film", "isn't", "it"]


def test_text_digest_is_the_hash_of_the_lower_cased_text_with_whitespace_collapsed() -> None:
    """The ASCII fast path gives the digest the definition gives, whatever whitespace the text holds."""
    import hashlib
    import random

    from claystream_monitor.services.sampling import text_digest

    def definition(text: str) -> str:
        return hashlib.sha1(" ".join(text.lower().split()).encode()).hexdigest()[:20]

    rng = random.Random(3)
    alphabet = "aZ \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x00."
    texts = ["", " ", "  lead and trail  ", "Great<br />FILM!\n\nReally", "\u212a is the Kelvin sign", "caf\u00e9  au\u00a0lait",
             "a\x85b", "tab\tand\u2028line"] + ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(2000)]
    for text in texts:
        assert text_digest(text) == definition(text), repr(text)
    assert text_digest("Hello   World") == text_digest("hello world") != text_digest("hello  worlds")

"""The shared scores, the complaint parts' reports and the targets, without a model."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.labels import INSIGHT_KINDS, SENTIMENTS
from tests.training.quality_keys import COMMITTED, assert_same_keys
from training.evaluations.complaints_cv import ComplaintsCVResult, FoldScores
from training.evaluations.complaints_dev import ComplaintsDevResult
from training.evaluations.scoring import binary_scores, sentiment_scores
from training.evaluations.targets import check_targets, lookup


def test_binary_scores_at_the_threshold_and_undefined_where_nothing_is_positive():
    s = binary_scores([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1], 0.5)
    assert (s.f1, s.precision, s.recall) == (0.5, 0.5, 0.5)
    assert (s.n, s.positives, s.predicted_positive) == (4, 2, 2)
    none = binary_scores([0, 0], [0.1, 0.2], 0.5)
    assert (none.f1, none.precision, none.recall) == (None, None, None)
    assert list(s.to_json()) == list(COMMITTED["complaints_committed_dev"])


def test_sentiment_scores_drop_neutral_rows_from_the_binary_score():
    rows = [
        {"sentiment": {"label": label, "polarity": polarity}}
        for label, polarity in zip(SENTIMENTS, (-0.8, 0.1, 0.7), strict=True)
    ]
    s = sentiment_scores(list(SENTIMENTS), rows)
    assert (s.macro_f1_3way, s.binary_macro_f1, s.n, s.n_binary) == (1.0, 1.0, 3, 2)
    assert s.gold_counts == {label.value: 1 for label in SENTIMENTS}
    empty = sentiment_scores([], [])
    assert (empty.macro_f1_3way, empty.binary_macro_f1) == (None, None)


def _fold(k: int, macro_f1: float) -> FoldScores:
    scores = binary_scores([1, 0, 1, 0], [0.9, 0.2, 0.3, 0.1], 0.5)
    return FoldScores(
        scores=replace(scores, macro_f1=macro_f1),
        ece=0.1,
        fold=k,
        train_tweets=8,
        calibration_tweets=2,
        calibration={"temperature": 1.0, "bias": 0.0},
        seconds=1.0,
    )


def test_complaints_cv_report_summarises_the_folds_in_the_committed_structure():
    result = ComplaintsCVResult(
        folds=2,
        tweets=8,
        tweet_positives=4,
        threshold=0.5,
        per_fold=[_fold(0, 0.8), _fold(1, 0.6)],
        encoder_seconds=2.0,
        protocol="test",
    )
    report = result.to_json()
    assert_same_keys(report, COMMITTED["complaints_cv"])
    assert report["macro_f1"] == {"mean": 0.7, "std": pytest.approx(0.1414, abs=1e-4)}
    assert "0.700" in result.table_rows()[0]
    dev = ComplaintsDevResult(binary_scores([1, 0], [0.9, 0.1], 0.5))
    assert_same_keys(dev.to_json(), COMMITTED["complaints_committed_dev"])


def test_targets_read_the_committed_report_as_it_was_checked():
    targets = check_targets(COMMITTED)
    assert [t.to_json() for t in targets] == COMMITTED["targets"]
    assert len(targets) == 7 + 2 * len(INSIGHT_KINDS)
    assert lookup(COMMITTED, "own", "nothing", "here") is None

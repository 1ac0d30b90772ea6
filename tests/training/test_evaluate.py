"""`make eval`'s own-set part on a handful of real labelled rows, through the committed model."""

from __future__ import annotations

import pytest

from nlp.heads import BINARY_TASKS
from training.datasets import Example, own_examples
from training.evaluate import (
    check_targets,
    classify_rows,
    committed_analyzer,
    evaluate_own,
    format_table,
)


@pytest.fixture(scope="module")
def rows() -> list[Example]:
    """Per language: a customer row for each label, a row with none, and an agent row."""
    chosen: list[Example] = []
    pool = list(own_examples())
    for lang in ("en", "fa"):
        mine = [ex for ex in pool if ex.lang == lang]
        for task in BINARY_TASKS:
            chosen.append(next(ex for ex in mine if ex.binary[task] and ex not in chosen))
        chosen.append(
            next(ex for ex in mine if ex.speaker == "customer" and not any(ex.binary.values()))
        )
        chosen.append(next(ex for ex in mine if ex.speaker == "agent"))
    return chosen


@pytest.fixture(scope="module")
def report(rows):
    return evaluate_own(rows, committed_analyzer(), batch=5)


def _unit(value) -> bool:
    return value is None or 0.0 <= value <= 1.0


def test_classify_rows_is_hamsu_classify_plus_polarity(rows):
    analyzer = committed_analyzer()
    texts = [ex.text for ex in rows[:4]]
    plain = analyzer.classify(texts)
    ours = classify_rows(analyzer, texts, batch=3)
    for a, b in zip(plain, ours, strict=True):
        assert {k: v for k, v in b.items() if k != "sentiment"} == {
            k: v for k, v in a.items() if k != "sentiment"
        }
        assert b["sentiment"]["label"] == a["sentiment"]["label"]
        assert -1.0 <= b["sentiment"]["polarity"] <= 1.0
    # the analyzer is shared (lru_cache): the recording hook must be gone afterwards
    assert "_sentiment" not in vars(analyzer)


def test_own_report_structure_and_ranges(report, rows):
    assert report["n"] == len(rows) == 12
    assert report["n_by_language"] == {"en": 6, "fa": 6}
    for task in BINARY_TASKS:
        entry = report["labels"][task]
        assert 0.0 < entry["threshold"] < 1.0
        for group in ("en", "fa", "all"):
            scores = entry[group]
            assert scores["n"] == (12 if group == "all" else 6)
            assert scores["positives"] >= 1
            for key in ("f1", "precision", "recall", "macro_f1"):
                assert _unit(scores[key]), (task, group, key, scores[key])
            assert scores["f1"] is not None and scores["recall"] is not None
            assert _unit(report["ece"][task][group])
    for group in ("en", "fa", "all"):
        sentiment = report["sentiment"][group]
        assert sentiment["n"] == (12 if group == "all" else 6)
        assert _unit(sentiment["macro_f1_3way"]) and _unit(sentiment["accuracy_3way"])
        assert _unit(sentiment["binary_macro_f1"])
    agents = report["agent_rows"]
    assert agents["n"] == 2
    assert 0 <= agents["flagged"] <= 2 and _unit(agents["flagged_rate"])
    assert set(agents["by_label"]) == set(BINARY_TASKS)


def test_targets_and_table_from_an_own_only_report(report):
    partial = {"own": report}
    targets = check_targets(partial)
    own_targets = [t for t in targets if t["target"].startswith("own_")]
    assert len(own_targets) == 2 * len(BINARY_TASKS)
    assert all(isinstance(t["pass"], bool) for t in own_targets)
    # parts that were not run are reported as not measured, not as failures
    assert all(t["pass"] is None for t in targets if t["measured_on"].startswith("Deep"))
    table = format_table(partial | {"targets": targets})
    assert "churn_risk [fa] F1" in table and "not measured" in table

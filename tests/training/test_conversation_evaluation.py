"""The conversation-level part of `make eval` on a few labelled conversations of each language,
through the committed model's decision."""

from __future__ import annotations

import pytest

from core.labels import INSIGHT_KINDS
from tests.training.quality_keys import COMMITTED, assert_same_keys
from training.conversations import load_conversations, read_all
from training.evaluations.conversations import (
    COLUMNS,
    ConversationsResult,
    SkippedConversations,
    evaluate_conversations,
)
from training.evaluations.product import committed_analyzer, weights_path


@pytest.fixture(scope="module")
def result(tmp_path_factory) -> ConversationsResult:
    analyzer = committed_analyzer()
    dev = list(load_conversations(split="dev"))
    chosen = [c for lang in ("en", "fa") for c in [c for c in dev if c.language == lang][:3]]
    readings = read_all(
        analyzer,
        chosen,
        cache=tmp_path_factory.mktemp("cache"),
        weights_dir=weights_path().parent,
    )
    out = evaluate_conversations(chosen, analyzer, readings)
    assert isinstance(out, ConversationsResult)
    return out


def test_report_has_the_committed_structure_and_sane_values(result):
    report = result.to_json()
    assert_same_keys(report, COMMITTED["conversations"])
    assert report["conversations"] == 6
    for reading in ("decision", "sentence_level"):
        for lang in ("en", "fa"):
            scores = report[reading][lang]
            assert scores["conversations"] == 3
            assert 0.0 <= scores["queue_accuracy"] <= 1.0
            assert set(scores["kinds"]) == set(INSIGHT_KINDS)
        assert [row["threshold"] for row in report[reading]["pr_table"][INSIGHT_KINDS[0]]] == [
            0.3,
            0.4,
            0.5,
            0.6,
            0.7,
            0.8,
            0.9,
        ]


def test_table_rows_compare_the_decision_with_the_sentence_level_reading(result):
    rows = result.table_rows()
    per_language = len(INSIGHT_KINDS) + 2
    assert len(rows) == 2 * per_language + 1
    assert rows[-1].startswith("6 conversations; ECE")
    assert ConversationsResult.columns == COLUMNS
    assert "decision P / R / F1" in COLUMNS


def test_a_skipped_set_says_why():
    skipped = SkippedConversations("no blind conversations")
    assert skipped.to_json() == {"skipped": "no blind conversations"}
    assert skipped.table_rows() == ["  skipped: no blind conversations"]

"""The project's labelled sets keep the promises of their data card."""

import json
from collections import Counter

import pytest

from core.labels import COMPLAINT_CATEGORIES, INSIGHT_KINDS
from training.datasets import BLIND_DIR, CHALLENGE_DIR, OWN_DIR

KEYS = ["id", "text", "lang", "labels", "category", "sentiment", "speaker", "channel", "industry"]


def _rows(lang: str) -> list[dict]:
    return [
        json.loads(line)
        for path in sorted(OWN_DIR.glob(f"{lang}_*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_sizes_the_issue_asks_for(lang):
    rows = _rows(lang)
    labels = Counter(label for row in rows for label in row["labels"])
    assert all(labels[task] >= 300 for task in INSIGHT_KINDS), labels
    unlabelled = [row for row in rows if not row["labels"]]
    assert len(unlabelled) >= 600
    assert sum(row["hard_negative"] for row in unlabelled) >= len(unlabelled) / 3
    assert {row["channel"] for row in rows} == {"call", "chat", "email"}


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_rows_follow_the_label_guide(lang):
    rows = _rows(lang)
    assert len({row["id"] for row in rows}) == len(rows)
    assert len({row["text"] for row in rows}) == len(rows)
    for row in rows:
        assert list(row)[: len(KEYS)] == KEYS, row["id"]
        assert row["lang"] == lang
        assert set(row["labels"]) <= set(INSIGHT_KINDS), row["id"]
        if "complaint" in row["labels"]:
            assert row["category"] in COMPLAINT_CATEGORIES, row["id"]
        else:
            assert row["category"] is None, row["id"]
        if row["speaker"] == "agent" or row["hard_negative"]:
            assert row["labels"] == [], row["id"]
        assert 3 <= len(row["text"].split()) <= 60, row["id"]


@pytest.mark.parametrize("folder", [CHALLENGE_DIR, BLIND_DIR], ids=["challenge", "blind"])
def test_evaluation_sets_share_no_text_with_the_training_files(folder):
    training = {row["text"] for lang in ("en", "fa") for row in _rows(lang)}
    paths = sorted(folder.glob("*.jsonl"))
    assert [p.name for p in paths] == ["en.jsonl", "fa.jsonl"]
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            assert json.loads(line)["text"] not in training

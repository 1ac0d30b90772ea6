"""The labelled conversations as the decision model reads them, and `training.decision` end to
end on a slice of them."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np

from core.labels import INSIGHT_KINDS
from nlp.analyzer import load_analyzer
from nlp.decision import DecisionModel
from training.conversations import (
    BLIND_DIR,
    CONVERSATIONS_DIR,
    load_conversations,
    queue_of,
    read_all,
)
from training.decision import DecisionOptions, fit


def test_the_labelled_conversations_hold_what_the_data_card_says():
    rows = list(load_conversations()) + list(load_conversations(BLIND_DIR))
    by_language = Counter(c.language for c in rows)
    assert by_language["en"] >= 160 and by_language["fa"] >= 160
    for language in ("en", "fa"):
        mine = [c for c in rows if c.language == language]
        assert sum(not c.labels for c in mine) / len(mine) >= 0.4
        assert {c.channel for c in mine} == {"chat", "email", "call"}
        assert Counter(c.split for c in mine).keys() == {"train", "dev", "blind"}
    for c in rows:
        assert set(c.evidence) == set(c.labels), c.id
        assert (c.family is None) == bool(c.labels), c.id
        for turns in c.evidence.values():
            assert all(c.turns[i][0] == "customer" for i in turns), c.id
    # every conversation was labelled again by a blind second annotator
    second = {
        json.loads(line)["id"]
        for path in (CONVERSATIONS_DIR / "review").glob("*second*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
    }
    assert {c.id for c in rows} <= second


def test_queue_of_names_the_queues_a_conversation_belongs_in():
    assert queue_of(set()) == "none"
    assert queue_of({"upsell"}) == "sales"
    assert queue_of({"complaint", "churn_risk"}) == "cs"
    assert queue_of({"unmet_expectation", "upsell"}) == "both"


def test_fit_on_a_slice_gives_a_model_the_analyzer_can_use(tmp_path):
    analyzer = load_analyzer()
    conversations = list(load_conversations())
    train = [c for c in conversations if c.split == "train"][:48]
    dev = [c for c in conversations if c.split == "dev"][:24]
    readings = read_all(analyzer, train + dev, cache=tmp_path / "cache", weights_dir=tmp_path)
    # read again: every reading comes from the cache now
    again = read_all(analyzer, train + dev, cache=tmp_path / "cache", weights_dir=tmp_path)
    assert again[train[0].id][0].best == readings[train[0].id][0].best
    model = fit(train, readings, DecisionOptions(version="test", threshold_folds=2))
    model.save(tmp_path / "decision.json")
    loaded = DecisionModel.load(tmp_path / "decision.json")
    assert (tmp_path / "decision.npz").exists()
    for kind in INSIGHT_KINDS:
        targets = [p[0] for p in loaded.operating_points[kind]]
        assert targets == [0.8, 0.85, 0.9, 0.95]
        thresholds = [p[1] for p in loaded.operating_points[kind]]
        assert all(0.3 <= t <= 1.0 for t in thresholds)
    probabilities = [loaded.decide(readings[c.id]) for c in dev]
    for kind in INSIGHT_KINDS:
        p = np.array([d[kind].probability for d in probabilities])
        assert ((p >= 0) & (p <= 1)).all()
        labels = np.array([kind in c.labels for c in dev])
        if labels.any() and (~labels).any():
            # even fitted on 48 conversations it ranks the dev conversations better than chance
            assert p[labels].mean() > p[~labels].mean(), kind

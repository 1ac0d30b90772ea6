"""`make train`'s script end to end on a slice of the real labelled rows (one layer, one epoch)."""

from __future__ import annotations

import numpy as np

import training.train as train_script
from core.labels import INSIGHT_KINDS
from nlp.analyzer import load_analyzer
from nlp.heads import HeadBundle
from training.datasets import own_examples
from training.finetune import FinetuneOptions

TASKS = {"sentiment", "complaint_category", *INSIGHT_KINDS}


def test_training_writes_every_head_and_the_analyzer_reads_them(tmp_path, monkeypatch):
    pool = [ex for ex in own_examples() if ex.speaker == "customer"]
    # every label and both splits, in both languages, small enough for a one-minute run
    rows = [ex for i, ex in enumerate(pool) if i % 12 == 0]
    assert {ex.split for ex in rows} == {"train", "dev"} and {ex.lang for ex in rows} == {
        "en",
        "fa",
    }
    monkeypatch.setattr(train_script, "all_examples", lambda data, extra: rows)
    out = tmp_path / "heads.pt"
    meta = train_script.train(None, [], out, FinetuneOptions(trainable_layers=1, epochs=1))

    bundle = HeadBundle.load(out)
    assert set(bundle.heads) == TASKS and bundle.version == train_script.VERSION
    assert (tmp_path / "encoder.pt").exists()
    metrics = meta["metrics"]
    assert isinstance(metrics, dict) and set(metrics) == TASKS
    for task in INSIGHT_KINDS:
        assert 0.0 <= metrics[task]["ece"] <= 1.0
    train_script.write_cards(out, meta)
    assert "complaint" in (tmp_path / "MODEL_CARD.md").read_text(encoding="utf-8")

    analyzer = load_analyzer(str(out))
    assert analyzer.embedder.name == bundle.embedder
    result = analyzer.classify(["the courier lost my parcel again", "پشتیبانی‌تون عالیه"])
    assert [r["language"] for r in result] == ["en", "fa"]
    probs = analyzer.detectors["sentiment"].predict(analyzer.featurize(["ok"]))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)

"""`make train`'s agent-voice step end to end on a slice of the real labelled rows."""

from __future__ import annotations

import shutil

import numpy as np

from nlp.analyzer import load_analyzer
from nlp.heads import AGENT_VOICE, AGENT_VOICE_WEIGHTS, DEFAULT_WEIGHTS, HeadBundle
from training.agent_voice import gate_report, train
from training.datasets import own_examples


def test_gate_report_counts_what_the_threshold_silences():
    y = np.array([1, 1, 0, 0, 0])
    probs = np.array([0.9, 0.2, 0.7, 0.1, 0.0])
    labelled = np.array([False, False, True, False, True])
    report = gate_report(y, probs, labelled)
    assert report["agents"] == 2 and report["agents_gated"] == 1
    assert report["customers"] == 3 and report["customers_gated"] == 1
    assert report["labelled_customers_gated"] == 1


def test_training_writes_a_head_the_analyzer_uses(tmp_path):
    examples = list(own_examples())
    agents = [ex for ex in examples if ex.speaker == "agent"]
    customers = [ex for ex in examples if ex.speaker == "customer"][::15]
    assert {ex.split for ex in agents} == {"train", "dev"}
    out = tmp_path / AGENT_VOICE_WEIGHTS.name
    meta = train(out, agents + customers)

    bundle = HeadBundle.load(out)
    assert set(bundle.heads) == {AGENT_VOICE}
    dev = meta["dev"]
    assert isinstance(dev, dict) and dev["agents"] + dev["customers"] > 0
    # the analyzer picks the head up from beside the task heads
    for name in ("heads.pt", "heads_frozen.pt", "encoder.pt"):
        shutil.copy(DEFAULT_WEIGHTS.parent / name, tmp_path / name)
    analyzer = load_analyzer(str(tmp_path / "heads.pt"))
    assert analyzer.agent_voice is not None
    row = analyzer.classify(["can we add ten more seats to our plan?"])[0]
    assert 0.0 <= row["agent_voice"] <= 1.0

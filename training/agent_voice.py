"""Train the agent-voice head: `python -m training.agent_voice --out nlp/weights/agent_voice.pt`.

A line given to `hamsu classify` often comes without a speaker, and an agent's offer ("would you
like to upgrade to premium?") reads like a customer's request to the insight heads. This head
tells an agent's voice from a customer's, on the frozen encoder (so the customer rows it was
trained on look no different to it from new ones), from the project's labelled rows, which name
their speaker. It is calibrated on the dev split; the analyzer lets a line with no speaker raise
no customer insight when its agent-voice probability reaches `nlp.agent_voice_threshold`.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nlp.embed import BASE_NAME, embedder_for
from nlp.features import Features, fit_idf, ngram_matrix
from nlp.heads import AGENT_VOICE, AGENT_VOICE_WEIGHTS, HeadBundle
from training.datasets import Example, own_examples
from training.metrics import expected_calibration_error
from training.train import SEED, VERSION, calibrate, fit_head, set_seeds

# the analyzer's default decision threshold (`nlp.agent_voice_threshold`)
DEFAULT_THRESHOLD = 0.5


def _is_agent(rows: Sequence[Example]) -> np.ndarray:
    return np.array([ex.speaker == "agent" for ex in rows], dtype=int)


def gate_report(y: np.ndarray, probs: np.ndarray, labelled: np.ndarray) -> dict[str, object]:
    """What the gate does at the default threshold: agent lines caught, customer lines (and
    customer lines with an insight label) silenced by mistake."""
    gated = probs >= DEFAULT_THRESHOLD
    customers = y == 0
    return {
        "agents": int(y.sum()),
        "agents_gated": int((gated & (y == 1)).sum()),
        "customers": int(customers.sum()),
        "customers_gated": int((gated & customers).sum()),
        "labelled_customers_gated": int((gated & customers & labelled).sum()),
        "ece": expected_calibration_error(y, probs),
    }


def train(out: Path, examples: Sequence[Example] | None = None) -> dict[str, object]:
    """Fit, calibrate and save the head on `examples` (the labelled set by default)."""
    set_seeds(SEED)
    examples = list(own_examples()) if examples is None else list(examples)
    train_rows = [ex for ex in examples if ex.split == "train"]
    dev_rows = [ex for ex in examples if ex.split == "dev"]
    embedder = embedder_for(BASE_NAME, out.parent)
    idf = fit_idf([ex.text for ex in train_rows])

    def features(rows: Sequence[Example]) -> Features:
        texts = [ex.text for ex in rows]
        return Features(embedder.embed(texts), ngram_matrix(texts, idf))

    y_train, y_dev = _is_agent(train_rows), _is_agent(dev_rows)
    head = fit_head(features(train_rows), y_train, np.ones(len(train_rows)), 1)
    x_dev = features(dev_rows)
    calibration = calibrate(head, x_dev, y_dev)
    labelled = np.array([any(ex.binary.values()) for ex in dev_rows])
    report = gate_report(y_dev, head.probabilities(x_dev), labelled)
    meta: dict[str, object] = {
        "counts": {"train": len(train_rows), "train_agents": int(y_train.sum())},
        "dev": report,
        "calibration": calibration,
        "threshold": DEFAULT_THRESHOLD,
        "seed": SEED,
    }
    HeadBundle(BASE_NAME, embedder.dim, VERSION, {AGENT_VOICE: head}, idf, meta).save(out)
    print(json.dumps(meta, indent=1))
    print(f"wrote {out} ({out.stat().st_size // 1024} KiB)")
    return meta


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=AGENT_VOICE_WEIGHTS)
    train(parser.parse_args(argv).out)


if __name__ == "__main__":
    main()

"""Fine-tuning the top of the real encoder on a few real labelled rows."""

from __future__ import annotations

import numpy as np

from nlp.encoder import load_package_encoder
from nlp.features import ngram_matrix
from training.datasets import own_examples
from training.finetune import FinetuneOptions, finetune, frozen_states, pooled
from training.train import task_rows


def test_finetuning_separates_the_labels_it_is_trained_on():
    pool = list(own_examples())
    chosen = []
    for lang in ("en", "fa"):
        mine = [ex for ex in pool if ex.lang == lang and ex.speaker == "customer"]
        chosen += [ex for ex in mine if ex.binary["churn_risk"]][:12]
        chosen += [ex for ex in mine if not any(ex.binary.values())][:12]
    for ex in chosen:
        ex.split = "train"
    encoder, tokenizer = load_package_encoder()
    options = FinetuneOptions(trainable_layers=1, epochs=10, lr=1e-3, batch=8, seed=1)
    start = encoder.cfg.layers - options.trainable_layers
    states = frozen_states(encoder, tokenizer, [ex.text for ex in chosen], start)
    before = pooled(encoder, states, start)
    frozen_bottom = encoder.layers[0].q.weight.clone()
    patch, heads = finetune(
        encoder,
        states,
        ngram_matrix([ex.text for ex in chosen], None),
        task_rows(chosen, "train"),
        options,
        log_every=10_000,
    )
    after = pooled(encoder, states, start)

    assert patch.start == start and set(k.split(".")[0] for k in patch.stored) == {str(start)}
    assert (encoder.layers[0].q.weight == frozen_bottom).all()
    y = np.array([ex.binary["churn_risk"] for ex in chosen], dtype=bool)

    def separation(vectors: np.ndarray) -> float:
        # Fisher's ratio along the line joining the class centroids
        direction = vectors[y].mean(0) - vectors[~y].mean(0)
        projected = vectors @ direction
        gap = projected[y].mean() - projected[~y].mean()
        return float(gap / (projected[y].std() + projected[~y].std()))

    assert separation(after) > separation(before) * 2
    assert np.allclose(np.linalg.norm(after, axis=1), 1.0, atol=1e-5)

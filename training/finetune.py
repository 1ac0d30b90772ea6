"""Fine-tune the top layers of multilingual-e5-small on every task at once.

The frozen 4-bit encoder was the ceiling of the first models (Persian sentiment 0.80 binary F1).
Training the whole network on 2 cores is too slow for `make train`, so the bottom layers stay
frozen: their hidden states are computed once and kept in memory, and only the top
`trainable_layers` are trained, together with the task heads that ship. Each row contributes to
the tasks its source labels (masked multi-task loss), with the class balancing of `training.train`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from core.labels import INSIGHT_KINDS
from nlp.batching import length_batches
from nlp.encoder import E5Encoder, Tokenizer, mean_pool
from nlp.finetuned import MAX_TOKENS, EncoderPatch, encoder_input
from nlp.heads import Head, n_outputs


@dataclass(frozen=True)
class FinetuneOptions:
    # how many of the 12 layers are trained; the rest are frozen and run once
    trainable_layers: int = 6
    # passes over the training rows
    epochs: int = 3
    # peak learning rate of the encoder layers (linear warm-up, then linear decay)
    lr: float = 8e-5
    # the heads start from zero knowledge and take a larger step (their n-gram tables 10x more)
    head_lr: float = 2e-3
    # rows per step
    batch: int = 32
    # seed for shuffling and dropout
    seed: int = 0


@dataclass
class TaskRows:
    """Per task: which rows have a label, the label, and the row's weight in the loss."""

    mask: np.ndarray
    target: np.ndarray
    weight: np.ndarray


def _batches(lengths: np.ndarray, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar-length rows (less padding, same randomness across epochs)."""
    order = rng.permutation(len(lengths))
    chunk = batch * 50
    out: list[np.ndarray] = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        out.extend(part[rows] for rows in length_batches(lengths[part], batch))
    return [out[i] for i in rng.permutation(len(out))]


def _pad(states: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    longest = max(s.shape[0] for s in states)
    x = torch.zeros(len(states), longest, states[0].shape[1])
    mask = torch.zeros(len(states), longest, dtype=torch.bool)
    for i, s in enumerate(states):
        x[i, : s.shape[0]] = s.float()
        mask[i, : s.shape[0]] = True
    return x, mask


def frozen_states(
    encoder: E5Encoder, tokenizer: Tokenizer, texts: Sequence[str], stop: int, batch: int = 64
) -> list[torch.Tensor]:
    """Hidden states after the first `stop` layers, one fp16 [tokens, 384] tensor per text."""
    ids = [tokenizer.encode(encoder_input(t), MAX_TOKENS) for t in texts]
    out: list[torch.Tensor] = [torch.empty(0)] * len(texts)
    with torch.no_grad():
        for rows in length_batches([len(i) for i in ids], batch):
            tok, mask = tokenizer.pad([ids[i] for i in rows])
            hidden = encoder.run_layers(encoder.embed_tokens(tok), mask, 0, stop)
            for j, i in enumerate(rows):
                out[i] = hidden[j, : len(ids[i])].half()
    return out


def pooled(
    encoder: E5Encoder, states: Sequence[torch.Tensor], start: int, batch: int = 64
) -> np.ndarray:
    """Sentence vectors from cached states through the (trained) top layers."""
    vectors = np.empty((len(states), encoder.cfg.hidden), dtype=np.float32)
    encoder.eval()
    with torch.no_grad():
        for rows in length_batches([s.shape[0] for s in states], batch):
            x, mask = _pad([states[r] for r in rows])
            vectors[rows] = mean_pool(encoder.run_layers(x, mask, start), mask).numpy()
    return vectors


def finetune(
    encoder: E5Encoder,
    states: Sequence[torch.Tensor],
    ngrams: sp.csr_matrix,
    tasks: dict[str, TaskRows],
    options: FinetuneOptions,
    *,
    log_every: int = 100,
) -> tuple[EncoderPatch, dict[str, Head]]:
    """Train the top layers of `encoder` in place together with one head per task, on the cached
    `states` and the rows' n-gram matrix; return the trained layers as a patch, and the heads
    (uncalibrated).

    Heads trained jointly see the encoder's vectors as they evolve; heads fitted afterwards on the
    training rows' final vectors would learn from rows the encoder already separates perfectly,
    and come out overconfident and brittle on new text."""
    torch.manual_seed(options.seed)
    rng = np.random.default_rng(options.seed)
    start = encoder.cfg.layers - options.trainable_layers
    top = encoder.layers[start:]
    top.requires_grad_(True)
    hidden = encoder.cfg.hidden
    heads = {task: Head(hidden, n_outputs(task)) for task in tasks}
    opt = torch.optim.AdamW(
        [
            {"params": top.parameters(), "lr": options.lr},
            {
                "params": [p for h in heads.values() for p in h.net.parameters()],
                "lr": options.head_lr,
            },
            # the n-gram tables are wide and sparse: a larger step, as in `fit_head`
            {
                "params": [p for h in heads.values() for p in h.ngrams.parameters()],
                "lr": options.head_lr * 10,
            },
        ],
        weight_decay=0.01,
    )
    lengths = np.array([s.shape[0] for s in states])
    labelled = np.zeros(len(states), dtype=bool)
    for rows in tasks.values():
        labelled |= rows.mask
    index = np.flatnonzero(labelled)
    steps = options.epochs * math.ceil(len(index) / options.batch)
    warmup = max(1, steps // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / (steps - warmup)))
    )
    tensors = {
        task: (
            torch.from_numpy(rows.mask),
            torch.from_numpy(rows.target),
            torch.from_numpy(rows.weight.astype(np.float32)),
        )
        for task, rows in tasks.items()
    }
    step, started, running = 0, time.time(), 0.0
    top.train()
    for head in heads.values():
        head.train()
    for epoch in range(options.epochs):
        for batch in _batches(lengths[index], options.batch, rng):
            picked = torch.from_numpy(index[batch])
            x, mask = _pad([states[int(r)] for r in picked])
            vectors = mean_pool(encoder.run_layers(x, mask, start), mask)
            batch_ngrams = ngrams[index[batch]]
            loss = torch.zeros(())
            for task, (has, target, weight) in tensors.items():
                keep = has[picked]
                if not keep.any():
                    continue
                kept = keep.numpy()
                logits = heads[task].logits(vectors[keep], batch_ngrams[kept])
                y, w = target[picked][keep], weight[picked][keep]
                if task in INSIGHT_KINDS:
                    per_row = nn.functional.binary_cross_entropy_with_logits(
                        logits[:, 0], y.float(), reduction="none"
                    )
                else:
                    per_row = nn.functional.cross_entropy(logits, y.long(), reduction="none")
                loss = loss + (per_row * w).sum() / options.batch
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(top.parameters(), 1.0)
            opt.step()
            schedule.step()
            step += 1
            value = float(loss.detach())
            running = 0.98 * running + 0.02 * value if step > 1 else value
            if step % log_every == 0:
                print(
                    f"  fine-tune epoch {epoch + 1} step {step}/{steps} loss {running:.3f} "
                    f"({time.time() - started:.0f}s)",
                    flush=True,
                )
    top.requires_grad_(False)
    encoder.eval()
    for head in heads.values():
        head.eval()
    return EncoderPatch.from_encoder(encoder, start), heads

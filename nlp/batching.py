"""Batches of similar length: less padding, so less compute spent on nothing.

Every batched model call in Hamsu (the embedders, the transformers backends, fine-tuning) sorts
its items by length first. `length_batches` yields index arrays; a caller writes each batch's
results to `out[batch]`, which puts them back in the original order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np


def length_batches(lengths: Sequence[int] | np.ndarray, size: int) -> Iterator[np.ndarray]:
    """Indices of the items, shortest first (ties keep their order), `size` at a time."""
    if size < 1:
        raise ValueError(f"batch size must be at least 1, not {size}")
    order = np.argsort(np.asarray(lengths, dtype=np.int64), kind="stable")
    for start in range(0, len(order), size):
        yield order[start : start + size]

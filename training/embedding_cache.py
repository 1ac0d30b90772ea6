"""Embeddings of training texts, cached on disk so retraining does not re-embed."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nlp.embed import Embedder


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def embed_cached(embedder: Embedder, texts: Sequence[str], cache_dir: Path) -> np.ndarray:
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{embedder.name}.npz"
    cached: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path) as data:
            cached = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
    keys = [_key(t) for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cached}.items())
    if missing:
        vectors = embedder.embed([t for _, t in missing])
        cached.update(zip([k for k, _ in missing], vectors, strict=True))
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(list(cached)), vectors=np.stack(list(cached.values())))
        tmp.replace(path)
    return np.stack([cached[k] for k in keys])

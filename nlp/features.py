"""What the detector heads read: a sentence embedding plus hashed character n-grams.

The multilingual embedding carries meaning across Persian and English; character n-grams keep the
exact cue words ("cancel", "فسخ", "more seats") that a 4-bit small encoder blurs. Hashing needs no
stored vocabulary, and character n-grams tolerate typos, missing ZWNJ and noisy ASR text.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from nlp.normalize import normalize

N_BUCKETS = 1 << 17
NGRAM_SIZES = (2, 3, 4, 5)


def ngram_counts(text: str) -> Counter[int]:
    """Hashed counts of the character n-grams of each word, padded with spaces (like char_wb)."""
    counts: Counter[int] = Counter()
    for word in normalize(text).lower().split():
        padded = f" {word} "
        for n in NGRAM_SIZES:
            for i in range(max(1, len(padded) - n + 1)):
                counts[zlib.crc32(padded[i : i + n].encode("utf-8")) & (N_BUCKETS - 1)] += 1
    return counts


def ngram_matrix(texts: Sequence[str], idf: np.ndarray | None) -> sp.csr_matrix:
    """Rows of sublinear tf·idf, L2-normalised; `idf=None` gives plain sublinear tf."""
    indptr, indices, values = [0], [], []
    for text in texts:
        counts = ngram_counts(text)
        ids = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = 1.0 + np.log(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
        weights = tf * idf[ids] if idf is not None else tf
        norm = float(np.linalg.norm(weights)) or 1.0
        indices.append(ids)
        values.append((weights / norm).astype(np.float32))
        indptr.append(indptr[-1] + len(ids))
    return sp.csr_matrix(
        (
            np.concatenate(values) if values else np.zeros(0, np.float32),
            np.concatenate(indices) if indices else np.zeros(0, np.int64),
            np.array(indptr, dtype=np.int64),
        ),
        shape=(len(texts), N_BUCKETS),
    )


def fit_idf(texts: Sequence[str]) -> np.ndarray:
    document_frequency = np.zeros(N_BUCKETS, dtype=np.float64)
    for text in texts:
        document_frequency[list(ngram_counts(text))] += 1
    return np.log((1 + len(texts)) / (1 + document_frequency)).astype(np.float32) + 1.0


@dataclass
class Features:
    embeddings: np.ndarray
    ngrams: sp.csr_matrix
    # the unit texts themselves, for detectors that read text rather than features (transformers);
    # optional so code that builds Features from embeddings alone keeps working
    texts: list[str] | None = None

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    def rows(self, index: np.ndarray | Sequence[int]) -> Features:
        index = np.asarray(index)
        texts = None if self.texts is None else [self.texts[i] for i in index]
        return Features(self.embeddings[index], self.ngrams[index], texts)

"""DeepSentiPers: Persian sentiment against published baselines.

The dev split is the rows `make train` holds out (`training.datasets.stable_split`). The
committed model is scored through `classify` (binary with neutral dropped, and 3-way), and its
sentiment head on whole texts as the model card scores it. Published DeepSentiPers numbers are
5-way, so a 5-class head is fitted here on the train split only (it is not shipped) to compare
with them. The published numbers use the official test.csv, which we do not have.
"""

from __future__ import annotations

import csv
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from sklearn.metrics import f1_score

from core.labels import SENTIMENTS, Sentiment
from nlp.analyzer import Analyzer
from nlp.features import Features, ngram_matrix
from training.datasets import deepsentipers
from training.embedding_cache import embed_cached
from training.evaluations.product import classify_rows
from training.evaluations.scoring import (
    COLUMNS,
    ROW,
    SentimentScores,
    cell,
    rounded,
    sentiment_scores,
)
from training.train import SEED, fit_head, set_seeds

FIVE_WAY = ("furious", "angry", "neutral", "happy", "delighted")  # DeepSentiPers -2..2
SPLIT = "dev rows of training.datasets.stable_split (held out by make train)"
NOTE = "published numbers use the official test.csv, which we do not have"
FIVE_WAY_NOTE = "5-class head fitted here on the train split (not shipped; uncalibrated argmax)"

# published numbers, as fractions (the papers print percentages)
PUBLISHED: list[dict[str, Any]] = [
    {
        "model": "ParsBERT v2 (Farahani et al. 2021)",
        "binary_f1": 0.9242,
        "multiclass_f1": 0.7131,
        "note": "hooshvare/parsbert README; its DeepSentiPers split may differ from ours",
    },
    {
        "model": "DeepSentiPers BLSTM (Sharami et al. 2020)",
        "binary_f1": 0.9198,
        "multiclass_f1": 0.6933,
        "note": "arXiv 2004.05328; official test.csv (not given to us)",
    },
]


@dataclass(frozen=True)
class FiveWay:
    macro_f1: float | None
    accuracy: float | None
    f1_by_class: dict[str, float | None]
    gold_counts: dict[str, int]
    train_rows: int
    fit_seconds: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"note": FIVE_WAY_NOTE}


@dataclass(frozen=True)
class DeepSentiPersResult:
    columns: ClassVar[str] = COLUMNS

    n_dev: int
    committed_model: SentimentScores
    committed_head_whole_text: SentimentScores
    five_way: FiveWay

    def to_json(self) -> dict[str, Any]:
        return {
            "split": SPLIT,
            "n_dev": self.n_dev,
            "committed_model": self.committed_model.to_json(),
            "committed_head_whole_text": self.committed_head_whole_text.to_json(),
            "five_way": self.five_way.to_json(),
            "note": NOTE,
        }

    def table_rows(self) -> list[str]:
        ours, whole = self.committed_model, self.committed_head_whole_text
        published = [(p["model"].split(" (")[0], p) for p in PUBLISHED]
        binary = ", ".join(f"{name} {cell(p['binary_f1'])}" for name, p in published)
        multiclass = ", ".join(f"{name} {cell(p['multiclass_f1'])}" for name, p in published)
        return [
            ROW.format(
                "binary macro-F1 (neutral dropped)",
                ours.n_binary,
                cell(ours.binary_macro_f1),
                f"{binary} (official test)",
            ),
            ROW.format("3-way macro-F1", ours.n, cell(ours.macro_f1_3way), ""),
            ROW.format(
                "5-way macro-F1 (head fitted on train, not shipped)",
                self.n_dev,
                cell(self.five_way.macro_f1),
                f"{multiclass} (multi-class)",
            ),
            ROW.format(
                "  head on whole text: binary / 3-way",
                ours.n,
                cell(whole.binary_macro_f1),
                f"3-way {cell(whole.macro_f1_3way)}",
            ),
        ]


def five_way_values(data: Path) -> list[int]:
    """The -2..2 labels of original.csv, in the order `training.datasets.deepsentipers` reads."""
    with (data / "fa_sentiment_deepsentipers" / "original.csv").open(encoding="utf-8") as fh:
        return [int(label) for _text, label in csv.reader(fh)]


def evaluate_deepsentipers(data: Path, analyzer: Analyzer, cache: Path) -> DeepSentiPersResult:
    examples = list(deepsentipers(data))
    dev = [i for i, ex in enumerate(examples) if ex.split == "dev"]
    train = [i for i, ex in enumerate(examples) if ex.split == "train"]
    gold = [examples[i].sentiment or "" for i in dev]
    product = sentiment_scores(gold, classify_rows(analyzer, [examples[i].text for i in dev]))

    # cached embeddings: the whole dataset is embedded again only when the embedder changes
    texts = [ex.text for ex in examples]
    features = Features(
        embed_cached(analyzer.embedder, texts, cache), ngram_matrix(texts, analyzer.idf)
    )
    probs = analyzer.detectors["sentiment"].predict(features.rows(dev))
    negative, positive = SENTIMENTS.index(Sentiment.NEGATIVE), SENTIMENTS.index(Sentiment.POSITIVE)
    head_rows = [
        {
            "sentiment": {
                "label": SENTIMENTS[int(p.argmax())],
                "polarity": float(p[positive] - p[negative]),
            }
        }
        for p in probs
    ]

    started = time.time()
    set_seeds(SEED)
    y5 = np.array([value + 2 for value in five_way_values(data)], dtype=int)
    head = fit_head(features.rows(train), y5[train], np.ones(len(train)), len(FIVE_WAY))
    pred5 = head.probabilities(features.rows(dev)).argmax(axis=1)
    classes = range(len(FIVE_WAY))
    per_class = f1_score(y5[dev], pred5, labels=classes, average=None, zero_division=0)
    macro = f1_score(y5[dev], pred5, labels=classes, average="macro", zero_division=0)
    return DeepSentiPersResult(
        n_dev=len(dev),
        committed_model=product,
        committed_head_whole_text=sentiment_scores(gold, head_rows),
        five_way=FiveWay(
            macro_f1=rounded(macro),
            accuracy=rounded((pred5 == y5[dev]).mean()),
            f1_by_class={name: rounded(v) for name, v in zip(FIVE_WAY, per_class, strict=True)},
            gold_counts={FIVE_WAY[k]: int(v) for k, v in sorted(Counter(y5[dev]).items())},
            train_rows=len(train),
            fit_seconds=round(time.time() - started, 1),
        ),
    )

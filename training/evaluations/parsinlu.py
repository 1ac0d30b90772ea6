"""ParsiNLU sentiment dev (food and movie reviews, the overall aspect): Persian sentiment on
reviews, a second Persian set beside DeepSentiPers in another register.

Most dev reviews also appear in the training files, and those that fell in training's train
split were learnt; 'all' is therefore optimistic, and 'unseen_in_training' is the clean (small)
subset the targets read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from core.labels import SENTIMENTS
from nlp.analyzer import Analyzer
from training.datasets import stable_split
from training.evaluations.product import classify_rows
from training.evaluations.scoring import COLUMNS, ROW, SentimentScores, cell, sentiment_scores

OVERALL_ASPECT = "کلی"
MIXED = 3  # ParsiNLU's label for mixed / borderline: no single sentiment (as in training)
DOMAINS = ("food", "movie")
NOTE = (
    "overall-aspect rows, -2..2 mapped to negative/neutral/positive, mixed (3) dropped. "
    "Most dev reviews also appear in food.jsonl / movie.jsonl, which training reads; "
    "rows_seen_in_training of them fell in its train split, so 'all' is optimistic and "
    "'unseen_in_training' is the clean (small) subset"
)


@dataclass(frozen=True)
class Review:
    domain: str
    text: str
    label: str
    seen_in_training: bool


@dataclass(frozen=True)
class ParsinluResult:
    columns: ClassVar[str] = COLUMNS

    all: SentimentScores
    food: SentimentScores
    movie: SentimentScores
    unseen_in_training: SentimentScores
    rows_seen_in_training: int

    def to_json(self) -> dict[str, Any]:
        return {
            "all": self.all.to_json(),
            "food": self.food.to_json(),
            "movie": self.movie.to_json(),
            "unseen_in_training": self.unseen_in_training.to_json(),
            "rows_seen_in_training": self.rows_seen_in_training,
            "note": NOTE,
        }

    def table_rows(self) -> list[str]:
        lines = []
        for label, s in (("all", self.all), ("unseen in training only", self.unseen_in_training)):
            lines += [
                ROW.format(f"{label}: binary macro-F1", s.n_binary, cell(s.binary_macro_f1), ""),
                ROW.format(
                    f"{label}: 3-way macro-F1", s.n, cell(s.macro_f1_3way), f"gold {s.gold_counts}"
                ),
            ]
        return lines


def dev_reviews(data: Path) -> list[Review]:
    """The overall-aspect dev reviews with a single sentiment, and whether training learnt each."""
    folder = data / "fa_sentiment_parsinlu"
    reviews = []
    for domain in DOMAINS:
        training_file = {
            json.loads(line)["review"]
            for line in (folder / f"{domain}.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()
        }
        for line in (folder / f"{domain}_dev.jsonl").read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            value = int(row["label"])
            if row["aspect"] != OVERALL_ASPECT or value == MIXED:
                continue
            text = row["review"]
            seen = text in training_file and stable_split(f"pnlu-{text}") == "train"
            label = SENTIMENTS[(value > 0) - (value < 0) + 1]
            reviews.append(Review(domain, text, label, seen))
    return reviews


def evaluate_parsinlu(data: Path, analyzer: Analyzer) -> ParsinluResult:
    reviews = dev_reviews(data)
    rows = classify_rows(analyzer, [r.text for r in reviews])

    def subset(keep: Callable[[Review], bool]) -> SentimentScores:
        idx = [i for i, r in enumerate(reviews) if keep(r)]
        return sentiment_scores([reviews[i].label for i in idx], [rows[i] for i in idx])

    return ParsinluResult(
        all=subset(lambda r: True),
        food=subset(lambda r: r.domain == "food"),
        movie=subset(lambda r: r.domain == "movie"),
        unseen_in_training=subset(lambda r: not r.seen_in_training),
        rows_seen_in_training=sum(r.seen_in_training for r in reviews),
    )

"""Scores and table cells the evaluations share.

Every score is rounded to four places and None where it is undefined (no positives, no rows), so
quality.json says "not measured" instead of a misleading 0 or a division error.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
from sklearn.metrics import f1_score

from core.labels import SENTIMENTS, Sentiment

LANGUAGES = ("en", "fa")
# metric, n, ours, reference: the layout of every sentence-level table block
ROW = "{:<48} {:>6} {:>9}  {}"
COLUMNS = ROW.format("metric", "n", "ours", "reference")
RULE = "-" * 92


class Result(Protocol):
    """What an evaluation returns: its quality.json entry and its rows of the printed table."""

    columns: ClassVar[str]

    def to_json(self) -> dict[str, Any]: ...

    def table_rows(self) -> list[str]: ...


def rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def cell(value: Any, digits: int = 3) -> str:
    """A number for the table, or a dash where it was not measured."""
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "–"


@dataclass(frozen=True)
class BinaryScores:
    """One label's scores at a threshold; None where undefined (no positives for recall and F1,
    no predicted positives for precision)."""

    f1: float | None
    precision: float | None
    recall: float | None
    macro_f1: float | None
    n: int
    positives: int
    predicted_positive: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def row(self, metric: str) -> str:
        return ROW.format(
            metric, self.n, cell(self.f1), f"P {cell(self.precision)} R {cell(self.recall)}"
        )


def binary_scores(
    y: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray, threshold: float
) -> BinaryScores:
    """F1 / precision / recall of the positive class at `threshold`."""
    y_arr = np.asarray(y, dtype=int)
    pred = np.asarray(scores, dtype=float) >= threshold
    tp = int((pred & (y_arr == 1)).sum())
    fp = int((pred & (y_arr == 0)).sum())
    fn = int((~pred & (y_arr == 1)).sum())
    positives = tp + fn
    return BinaryScores(
        f1=rounded(2 * tp / (2 * tp + fp + fn)) if positives else None,
        precision=rounded(tp / (tp + fp)) if tp + fp else None,
        recall=rounded(tp / positives) if positives else None,
        macro_f1=rounded(
            f1_score(y_arr, pred.astype(int), average="macro", labels=[0, 1], zero_division=0)
        ),
        n=len(y_arr),
        positives=positives,
        predicted_positive=tp + fp,
    )


@dataclass(frozen=True)
class SentimentScores:
    """3-way macro-F1 and accuracy, and the SentiPers-style binary macro-F1 (neutral rows
    dropped), which is what the published Persian baselines report."""

    macro_f1_3way: float | None
    accuracy_3way: float | None
    binary_macro_f1: float | None
    n: int
    n_binary: int
    gold_counts: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def sentiment_scores(gold: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> SentimentScores:
    """`rows` (classify output) against `gold`; binary is positive vs negative by
    p(positive) > p(negative), i.e. polarity > 0."""
    y = np.array([SENTIMENTS.index(g) for g in gold], dtype=int)
    pred = np.array([SENTIMENTS.index(r["sentiment"]["label"]) for r in rows], dtype=int)
    polarity = np.array([r["sentiment"]["polarity"] for r in rows], dtype=float)
    polar = y != SENTIMENTS.index(Sentiment.NEUTRAL)
    positive = y[polar] == SENTIMENTS.index(Sentiment.POSITIVE)
    return SentimentScores(
        macro_f1_3way=rounded(f1_score(y, pred, labels=[0, 1, 2], average="macro", zero_division=0))
        if len(y)
        else None,
        accuracy_3way=rounded((pred == y).mean()) if len(y) else None,
        binary_macro_f1=rounded(
            f1_score(
                positive,
                polarity[polar] > 0,
                average="macro",
                labels=[False, True],
                zero_division=0,
            )
        )
        if polar.any()
        else None,
        n=int(len(y)),
        n_binary=int(polar.sum()),
        gold_counts={SENTIMENTS[k].value: int(v) for k, v in sorted(Counter(y).items())},
    )

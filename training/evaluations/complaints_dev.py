"""Complaints: the committed model on the complaint tweets of the dev split.

The cross-validation (`complaints_cv`) retrains per fold, so it measures the recipe; this
measures the shipped weights themselves, through `classify`, on the tweets `make train` held out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from core.labels import InsightKind
from nlp.analyzer import Analyzer
from training.datasets import complaints
from training.evaluations.product import classify_rows, threshold
from training.evaluations.scoring import COLUMNS, ROW, BinaryScores, binary_scores, cell


@dataclass(frozen=True)
class ComplaintsDevResult:
    columns: ClassVar[str] = COLUMNS

    scores: BinaryScores

    def to_json(self) -> dict[str, Any]:
        return self.scores.to_json()

    def table_rows(self) -> list[str]:
        s = self.scores
        return [
            ROW.format(
                "  committed model, dev tweets: macro-F1", s.n, cell(s.macro_f1), f"F1 {cell(s.f1)}"
            )
        ]


def evaluate_complaints_dev(data: Path, analyzer: Analyzer) -> ComplaintsDevResult:
    dev = [ex for ex in complaints(data) if ex.split == "dev"]
    rows = classify_rows(analyzer, [ex.text for ex in dev])
    task = InsightKind.COMPLAINT
    return ComplaintsDevResult(
        binary_scores(
            [ex.binary[task] for ex in dev], [r[task] for r in rows], threshold(analyzer, task)
        )
    )

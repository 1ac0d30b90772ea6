"""Scores the training script and `make eval` print: F1 per source, calibration error."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import f1_score


def expected_calibration_error(y: np.ndarray, probs: np.ndarray, bins: int = 10) -> float:
    """Binary ECE: mean |accuracy - confidence| over equal-width probability bins."""
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        mask = (probs >= lo) & (probs < hi if hi < 1 else probs <= hi)
        if mask.any():
            ece += mask.mean() * abs(y[mask].mean() - probs[mask].mean())
    return round(float(ece), 4)


def binary_report(
    y: np.ndarray, probs: np.ndarray, sources: Sequence[str], threshold: float = 0.5
) -> dict[str, object]:
    pred = (probs >= threshold).astype(int)
    report: dict[str, object] = {
        "f1": round(float(f1_score(y, pred, zero_division=0)), 4),
        "macro_f1": round(float(f1_score(y, pred, average="macro", zero_division=0)), 4),
        "n": len(y),
        "positives": int(y.sum()),
    }
    by_source = {}
    for source in sorted(set(sources)):
        mask = np.array([s == source for s in sources])
        if y[mask].sum() == 0:
            # a source with no positives: report how often it raises a false alarm
            by_source[source] = {
                "false_positive_rate": round(float(pred[mask].mean()), 4),
                "n": int(mask.sum()),
            }
            continue
        by_source[source] = {
            "f1": round(float(f1_score(y[mask], pred[mask], zero_division=0)), 4),
            "macro_f1": round(
                float(f1_score(y[mask], pred[mask], average="macro", zero_division=0)), 4
            ),
            "n": int(mask.sum()),
        }
    report["by_source"] = by_source
    return report


def multiclass_report(
    y: np.ndarray, probs: np.ndarray, sources: Sequence[str], labels: Sequence[str]
) -> dict[str, object]:
    pred = probs.argmax(axis=1)
    report: dict[str, object] = {
        "macro_f1": round(float(f1_score(y, pred, average="macro", zero_division=0)), 4),
        "accuracy": round(float((pred == y).mean()), 4),
        "n": len(y),
    }
    by_source: dict[str, object] = {}
    for source in sorted(set(sources)):
        mask = np.array([s == source for s in sources])
        entry = {
            "macro_f1": round(
                float(f1_score(y[mask], pred[mask], average="macro", zero_division=0)), 4
            ),
            "n": int(mask.sum()),
        }
        if list(labels)[:1] == ["negative"]:
            # binary polarity as in the SentiPers papers: neutral rows dropped, pos vs neg
            polar = mask & (y != 1)
            if polar.any():
                pred_pos = probs[polar, 2] > probs[polar, 0]
                entry["binary_macro_f1"] = round(
                    float(f1_score(y[polar] == 2, pred_pos, average="macro", zero_division=0)), 4
                )
        by_source[source] = entry
    report["by_source"] = by_source
    return report

"""Conversation-level quality: the unit a CSM works (`make eval`, section "conversations").

For a set of labelled conversations, through the same decision the product makes
(`Analyzer.read` → `DecisionModel.decide` → the thresholds from settings):

- per kind and language: conversation-level precision, recall, F1;
- false-alarm conversations: the share of conversations with no label that raise anything;
- queue accuracy: cs / sales / both / none, predicted against labelled;
- a precision–recall table over thresholds per kind;
- calibration (expected calibration error) of the conversation decision and of the turn evidence;
- sentiment agreement: raised complaints and unmet expectations whose quoted sentence the
  sentiment model reads as clearly positive;

and the same for the sentence-level reading that came before (a conversation raised a kind when
any customer sentence reached 0.5), so the README can show both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nlp.analyzer import Analyzer
from nlp.decision import DecisionModel, TurnReading
from nlp.heads import BINARY_TASKS
from training.conversations import LabelledConversation, queue_of

PR_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# a quoted sentence read as positive with at least this probability is "clearly positive"
CLEARLY_POSITIVE = 0.6
NEGATIVE_KINDS = ("complaint", "unmet_expectation")
SENTENCE_THRESHOLD = 0.5


@dataclass(frozen=True)
class Raised:
    """What one reading of a conversation raised: kind -> (probability, evidence turn)."""

    kinds: Mapping[str, tuple[float, int | None]]

    def kinds_raised(self, thresholds: Mapping[str, float]) -> set[str]:
        return {k for k, (p, turn) in self.kinds.items() if turn is not None and p >= thresholds[k]}


def decided(model: DecisionModel, readings: Sequence[TurnReading]) -> Raised:
    decisions = model.decide(readings)
    return Raised({k: (d.probability, d.best_turn) for k, d in decisions.items()})


def sentence_level(readings: Sequence[TurnReading]) -> Raised:
    """The reading before conversation-level decisions: the best customer sentence."""
    kinds: dict[str, tuple[float, int | None]] = {}
    for kind in BINARY_TASKS:
        scored = [
            (t.best[kind], i) for i, t in enumerate(readings) if t.speaker != "agent" and t.best
        ]
        kinds[kind] = max(scored) if scored else (0.0, None)
    return Raised(kinds)


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3), "n": tp + fn}


def ece(probabilities: Sequence[float], labels: Sequence[int], bins: int = 10) -> float:
    p, y = np.asarray(probabilities, dtype=float), np.asarray(labels, dtype=float)
    if not len(p):
        return 0.0
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(p[mask].mean() - y[mask].mean())
    return round(float(total / len(p)), 4)


def _counts(
    conversations: Sequence[LabelledConversation],
    raised: Mapping[str, Raised],
    kind: str,
    threshold: float,
) -> dict[str, float | int]:
    tp = fp = fn = 0
    for c in conversations:
        got = raised[c.id].kinds[kind][0] >= threshold
        want = kind in c.labels
        tp += got and want
        fp += got and not want
        fn += want and not got
    return _prf(tp, fp, fn)


def score_set(
    conversations: Sequence[LabelledConversation],
    raised: Mapping[str, Raised],
    thresholds: Mapping[str, float],
) -> dict[str, Any]:
    """Precision / recall / F1 per kind and language, false alarms, queue accuracy, PR table."""
    report: dict[str, Any] = {}
    for language in sorted({c.language for c in conversations}):
        subset = [c for c in conversations if c.language == language]
        per_kind = {}
        for kind in BINARY_TASKS:
            tp = fp = fn = 0
            for c in subset:
                got = kind in raised[c.id].kinds_raised(thresholds)
                want = kind in c.labels
                tp += got and want
                fp += got and not want
                fn += want and not got
            per_kind[kind] = _prf(tp, fp, fn)
        negatives = [c for c in subset if not c.labels]
        alarms = [c for c in negatives if raised[c.id].kinds_raised(thresholds)]
        queue_right = sum(
            queue_of(raised[c.id].kinds_raised(thresholds)) == queue_of(set(c.labels))
            for c in subset
        )
        report[language] = {
            "conversations": len(subset),
            "no_insight_conversations": len(negatives),
            "kinds": per_kind,
            "false_alarm_conversations": round(len(alarms) / max(1, len(negatives)), 3),
            "false_alarm_families": sorted({c.family or "" for c in alarms}),
            "queue_accuracy": round(queue_right / max(1, len(subset)), 3),
        }
    report["pr_table"] = {
        kind: [{"threshold": t, **_counts(conversations, raised, kind, t)} for t in PR_THRESHOLDS]
        for kind in BINARY_TASKS
    }
    return report


def sentiment_disagreements(
    conversations: Sequence[LabelledConversation],
    raised: Mapping[str, Raised],
    readings: Mapping[str, Sequence[TurnReading]],
    thresholds: Mapping[str, float],
) -> dict[str, int]:
    """Raised complaints / unmet expectations whose quoted sentence reads clearly positive."""
    count = total = 0
    for c in conversations:
        kinds = raised[c.id].kinds_raised(thresholds)
        for kind in NEGATIVE_KINDS:
            turn = raised[c.id].kinds[kind][1]
            if kind not in kinds or turn is None:
                continue
            total += 1
            count += readings[c.id][turn].best_sentiment[kind][1] >= CLEARLY_POSITIVE
    return {"clearly_positive": count, "raised": total}


def evaluate_conversations(
    conversations: Sequence[LabelledConversation],
    analyzer: Analyzer,
    readings: Mapping[str, Sequence[TurnReading]],
) -> dict[str, Any]:
    """The decision model against the sentence-level reading, on one set of conversations."""
    model = analyzer.decision
    if model is None:
        return {"skipped": "no decision model beside the detector weights"}
    after = {c.id: decided(model, readings[c.id]) for c in conversations}
    before = {c.id: sentence_level(readings[c.id]) for c in conversations}
    sentence_thresholds = {k: SENTENCE_THRESHOLD for k in BINARY_TASKS}
    thresholds = analyzer.decision_thresholds
    conv_probs, conv_labels, turn_probs, turn_labels = [], [], [], []
    for c in conversations:
        decisions = model.decide(readings[c.id])
        for kind in BINARY_TASKS:
            conv_probs.append(decisions[kind].probability)
            conv_labels.append(int(kind in c.labels))
            for turn, p in decisions[kind].turn_probabilities.items():
                turn_probs.append(p)
                turn_labels.append(int(c.carries(kind, turn)))
    return {
        "conversations": len(conversations),
        "thresholds": {k: round(v, 4) for k, v in thresholds.items()},
        "decision": score_set(conversations, after, thresholds),
        "sentence_level": score_set(conversations, before, sentence_thresholds),
        "ece": {
            "conversation_decision": ece(conv_probs, conv_labels),
            "turn_evidence": ece(turn_probs, turn_labels),
        },
        "sentiment_disagreements": {
            "decision": sentiment_disagreements(conversations, after, readings, thresholds),
            "sentence_level": sentiment_disagreements(
                conversations, before, readings, sentence_thresholds
            ),
        },
    }

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
from training.metrics import expected_calibration_error

PR_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# evidence read as positive with at least this probability (the quoted sentence or its turn)
CLEARLY_POSITIVE = 0.5
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
    """Raised complaints / unmet expectations whose evidence (the quoted sentence or its turn)
    the sentiment model reads as positive."""
    count = total = 0
    for c in conversations:
        kinds = raised[c.id].kinds_raised(thresholds)
        for kind in NEGATIVE_KINDS:
            turn = raised[c.id].kinds[kind][1]
            if kind not in kinds or turn is None:
                continue
            total += 1
            reading = readings[c.id][turn]
            # the quoted sentence, or the turn it stands in, reads positive
            count += max(reading.best_sentiment[kind][1], reading.sentiment[1]) >= CLEARLY_POSITIVE
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
            "conversation_decision": expected_calibration_error(
                np.asarray(conv_labels), np.asarray(conv_probs)
            ),
            "turn_evidence": expected_calibration_error(
                np.asarray(turn_labels), np.asarray(turn_probs)
            ),
        },
        "sentiment_disagreements": {
            "decision": sentiment_disagreements(conversations, after, readings, thresholds),
            "sentence_level": sentiment_disagreements(
                conversations, before, readings, sentence_thresholds
            ),
        },
    }


def table_rows(title: str, report: Mapping[str, Any]) -> list[str]:
    """The `make eval` table block for one set: decision vs sentence level, per language."""
    if "skipped" in report:
        return ["", title, f"  skipped: {report['skipped']}"]
    row = "{:<30} {:>5} {:>22} {:>22}"
    lines = [
        "",
        f"{title} ({report['conversations']} conversations)",
        row.format("measure", "lang", "decision P / R / F1", "sentence-level P / R / F1"),
        "-" * 92,
    ]
    after, before = report["decision"], report["sentence_level"]
    for language in sorted(k for k in after if k != "pr_table"):
        for kind in BINARY_TASKS:
            a, b = after[language]["kinds"][kind], before[language]["kinds"][kind]
            lines.append(
                row.format(
                    f"{kind} (n={a['n']})",
                    language,
                    f"{a['precision']:.2f} / {a['recall']:.2f} / {a['f1']:.2f}",
                    f"{b['precision']:.2f} / {b['recall']:.2f} / {b['f1']:.2f}",
                )
            )
        for measure in ("false_alarm_conversations", "queue_accuracy"):
            lines.append(
                row.format(
                    measure,
                    language,
                    f"{after[language][measure]:.3f}",
                    f"{before[language][measure]:.3f}",
                )
            )
    ece_ = report["ece"]
    agree = report["sentiment_disagreements"]
    lines.append(
        f"ECE conversation decision {ece_['conversation_decision']:.3f}, turn evidence "
        f"{ece_['turn_evidence']:.3f}; complaints/unmet on evidence read as positive: "
        f"{agree['decision']['clearly_positive']}/{agree['decision']['raised']} "
        f"(sentence level {agree['sentence_level']['clearly_positive']}/"
        f"{agree['sentence_level']['raised']})"
    )
    return lines

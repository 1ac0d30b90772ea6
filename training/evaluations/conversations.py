"""Conversation-level quality: the unit a CSM works, through the product's decision.

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
any customer sentence reached 0.5), so the README can show what the decision model changed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from core.labels import INSIGHT_KINDS, InsightKind
from nlp.analyzer import Analyzer
from nlp.decision import DecisionModel, TurnReading
from training.conversations import (
    BLIND_DIR,
    CONVERSATIONS_DIR,
    LabelledConversation,
    load_conversations,
    queue_of,
    read_all,
)
from training.decision import DecisionOptions, fold_deciders
from training.evaluations.product import weights_path
from training.metrics import expected_calibration_error

PR_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
# evidence read as positive with at least this probability (the quoted sentence or its turn)
CLEARLY_POSITIVE = 0.5
NEGATIVE_KINDS = (InsightKind.COMPLAINT, InsightKind.UNMET_EXPECTATION)
SENTENCE_THRESHOLD = 0.5
ROW = "{:<30} {:>5} {:>22} {:>22}"
COLUMNS = ROW.format("measure", "lang", "decision P / R / F1", "sentence-level P / R / F1")


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
    for kind in INSIGHT_KINDS:
        scored = [
            (t.best[kind], i) for i, t in enumerate(readings) if t.speaker != "agent" and t.best
        ]
        kinds[kind] = max(scored) if scored else (0.0, None)
    return Raised(kinds)


def prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    """Precision, recall, F1 (1.0 where nothing was raised or expected) and the positives."""
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3), "n": tp + fn}


def kind_scores(
    conversations: Sequence[LabelledConversation], raised_kinds: Mapping[str, set[str]], kind: str
) -> dict[str, float | int]:
    tp = fp = fn = 0
    for c in conversations:
        got, want = kind in raised_kinds[c.id], kind in c.labels
        tp += got and want
        fp += got and not want
        fn += want and not got
    return prf(tp, fp, fn)


@dataclass(frozen=True)
class LanguageScores:
    conversations: int
    no_insight_conversations: int
    kinds: dict[str, dict[str, float | int]]
    false_alarm_conversations: float
    false_alarm_families: list[str]
    queue_accuracy: float


@dataclass(frozen=True)
class SetScores:
    by_language: dict[str, LanguageScores]
    # kind -> the scores at each of PR_THRESHOLDS
    pr_table: dict[str, list[dict[str, float | int]]]

    def to_json(self) -> dict[str, Any]:
        languages = {language: asdict(s) for language, s in self.by_language.items()}
        return languages | {"pr_table": self.pr_table}


def score_set(
    conversations: Sequence[LabelledConversation],
    raised: Mapping[str, Raised],
    thresholds: Mapping[str, float],
) -> SetScores:
    """Precision / recall / F1 per kind and language, false alarms, queue accuracy, PR table."""
    kinds = {c.id: raised[c.id].kinds_raised(thresholds) for c in conversations}
    by_language = {}
    for language in sorted({c.language for c in conversations}):
        subset = [c for c in conversations if c.language == language]
        negatives = [c for c in subset if not c.labels]
        alarms = [c for c in negatives if kinds[c.id]]
        queue_right = sum(queue_of(kinds[c.id]) == queue_of(set(c.labels)) for c in subset)
        by_language[language] = LanguageScores(
            conversations=len(subset),
            no_insight_conversations=len(negatives),
            kinds={kind: kind_scores(subset, kinds, kind) for kind in INSIGHT_KINDS},
            false_alarm_conversations=round(len(alarms) / max(1, len(negatives)), 3),
            false_alarm_families=sorted({c.family or "" for c in alarms}),
            queue_accuracy=round(queue_right / max(1, len(subset)), 3),
        )
    pr_table: dict[str, list[dict[str, float | int]]] = {}
    for kind in INSIGHT_KINDS:
        pr_table[kind] = []
        for t in PR_THRESHOLDS:
            at_t: dict[str, set[str]] = {
                c.id: {kind} if raised[c.id].kinds[kind][0] >= t else set() for c in conversations
            }
            pr_table[kind].append({"threshold": t, **kind_scores(conversations, at_t, kind)})
    return SetScores(by_language, pr_table)


def sentiment_disagreements(
    conversations: Sequence[LabelledConversation],
    raised: Mapping[str, Raised],
    readings: Mapping[str, Sequence[TurnReading]],
    thresholds: Mapping[str, float],
) -> dict[str, int]:
    """Raised complaints / unmet expectations whose evidence (the quoted sentence or its turn)
    the sentiment model reads as positive: a sign the detector and the sentiment model disagree."""
    count = total = 0
    for c in conversations:
        kinds = raised[c.id].kinds_raised(thresholds)
        for kind in NEGATIVE_KINDS:
            turn = raised[c.id].kinds[kind][1]
            if kind not in kinds or turn is None:
                continue
            total += 1
            reading = readings[c.id][turn]
            count += max(reading.best_sentiment[kind][1], reading.sentiment[1]) >= CLEARLY_POSITIVE
    return {"clearly_positive": count, "raised": total}


@dataclass(frozen=True)
class ConversationsResult:
    columns: ClassVar[str] = COLUMNS

    conversations: int
    thresholds: dict[str, float]
    decision: SetScores
    sentence_level: SetScores
    ece: dict[str, float]
    sentiment_disagreements: dict[str, dict[str, int]]

    def to_json(self) -> dict[str, Any]:
        return {
            "conversations": self.conversations,
            "thresholds": self.thresholds,
            "decision": self.decision.to_json(),
            "sentence_level": self.sentence_level.to_json(),
            "ece": self.ece,
            "sentiment_disagreements": self.sentiment_disagreements,
        }

    def table_rows(self) -> list[str]:
        """Decision against sentence level, per language."""
        lines = []
        after, before = self.decision.by_language, self.sentence_level.by_language
        for language in after:
            for kind in INSIGHT_KINDS:
                a, b = after[language].kinds[kind], before[language].kinds[kind]
                lines.append(
                    ROW.format(
                        f"{kind} (n={a['n']})",
                        language,
                        f"{a['precision']:.2f} / {a['recall']:.2f} / {a['f1']:.2f}",
                        f"{b['precision']:.2f} / {b['recall']:.2f} / {b['f1']:.2f}",
                    )
                )
            for measure in ("false_alarm_conversations", "queue_accuracy"):
                ours, theirs = getattr(after[language], measure), getattr(before[language], measure)
                lines.append(ROW.format(measure, language, f"{ours:.3f}", f"{theirs:.3f}"))
        agree = self.sentiment_disagreements
        lines.append(
            f"{self.conversations} conversations; ECE conversation decision "
            f"{self.ece['conversation_decision']:.3f}, turn evidence "
            f"{self.ece['turn_evidence']:.3f}; complaints/unmet on evidence read as positive: "
            f"{agree['decision']['clearly_positive']}/{agree['decision']['raised']} "
            f"(sentence level {agree['sentence_level']['clearly_positive']}/"
            f"{agree['sentence_level']['raised']})"
        )
        return lines


@dataclass(frozen=True)
class SkippedConversations:
    """Why a set of conversations could not be scored (no decision model, no conversations)."""

    columns: ClassVar[str] = COLUMNS

    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"skipped": self.reason}

    def table_rows(self) -> list[str]:
        return [f"  skipped: {self.reason}"]


def evaluate_conversations(
    conversations: Sequence[LabelledConversation],
    analyzer: Analyzer,
    readings: Mapping[str, Sequence[TurnReading]],
    deciders: Mapping[str, DecisionModel] | None = None,
) -> ConversationsResult | SkippedConversations:
    """The decision model against the sentence-level reading, on one set of conversations, at the
    product's thresholds. `deciders` names the model that decides each conversation (the
    cross-fitted fold models); by default the shipped one decides them all."""
    if analyzer.decision is None:
        return SkippedConversations("no decision model beside the detector weights")
    shipped = analyzer.decision
    model_of = {c.id: (deciders or {}).get(c.id, shipped) for c in conversations}
    after = {c.id: decided(model_of[c.id], readings[c.id]) for c in conversations}
    before = {c.id: sentence_level(readings[c.id]) for c in conversations}
    sentence_thresholds: dict[str, float] = {k: SENTENCE_THRESHOLD for k in INSIGHT_KINDS}
    thresholds = analyzer.decision_thresholds
    conv_probs, conv_labels, turn_probs, turn_labels = [], [], [], []
    for c in conversations:
        decisions = model_of[c.id].decide(readings[c.id])
        for kind in INSIGHT_KINDS:
            conv_probs.append(decisions[kind].probability)
            conv_labels.append(int(kind in c.labels))
            for turn, p in decisions[kind].turn_probabilities.items():
                turn_probs.append(p)
                turn_labels.append(int(c.carries(kind, turn)))
    return ConversationsResult(
        conversations=len(conversations),
        thresholds={k: round(v, 4) for k, v in thresholds.items()},
        decision=score_set(conversations, after, thresholds),
        sentence_level=score_set(conversations, before, sentence_thresholds),
        ece={
            "conversation_decision": expected_calibration_error(
                np.asarray(conv_labels), np.asarray(conv_probs)
            ),
            "turn_evidence": expected_calibration_error(
                np.asarray(turn_labels), np.asarray(turn_probs)
            ),
        },
        sentiment_disagreements={
            "decision": sentiment_disagreements(conversations, after, readings, thresholds),
            "sentence_level": sentiment_disagreements(
                conversations, before, readings, sentence_thresholds
            ),
        },
    )


def evaluate_blind_conversations(
    analyzer: Analyzer, cache: Path
) -> ConversationsResult | SkippedConversations:
    """The blind conversations (written after the recipe was fixed) through the product's
    decision; readings are cached, as reading is the slow part."""
    conversations = list(load_conversations(BLIND_DIR))
    if not conversations:
        return SkippedConversations(f"no conversations in {BLIND_DIR}")
    readings = read_all(analyzer, conversations, cache=cache, weights_dir=weights_path().parent)
    return evaluate_conversations(conversations, analyzer, readings)


def evaluate_cross_fitted_conversations(
    analyzer: Analyzer, cache: Path
) -> ConversationsResult | SkippedConversations:
    """Every labelled conversation the decision model is fitted on, each decided by the fold
    model fitted without it (`training.decision`'s folds and options): what the model does on
    conversations it has not seen, at the thresholds those same decisions chose."""
    conversations = [c for c in load_conversations(CONVERSATIONS_DIR) if c.split != "blind"]
    if not conversations or analyzer.decision is None:
        return SkippedConversations("no labelled conversations or no decision model")
    readings = read_all(analyzer, conversations, cache=cache, weights_dir=weights_path().parent)
    options = DecisionOptions(**analyzer.decision.meta.get("options", {}))  # type: ignore[arg-type]
    return evaluate_conversations(
        conversations, analyzer, readings, fold_deciders(conversations, readings, options)
    )

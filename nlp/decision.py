"""One decision per kind for a whole conversation, from sentence evidence read in context.

Sentence scores alone cry wolf at the conversation level: a conversation has 5–15 customer
sentences, so a few per cent of false alarms per sentence become a false alarm in a third of
conversations. Two small calibrated models sit on top of the sentence detectors:

1. **Turn in context.** Each customer turn is read with the turn before it (usually the agent's
   question or answer): its best and runner-up sentence scores per kind, how many of its
   sentences pass one half, its whole-turn reading, its sentiment and that of the quoted
   sentence, whether that sentence is a question, the previous turn's scores and sentiment, and
   the turn's own wording (hashed character n-grams, the detectors' features). A logistic model
   per kind, trained on whole conversations, turns these into the probability that the turn
   carries the kind, so "it doesn't export to PDF, right?" after "how can I help" reads as a
   how-to, "you said ten days and it came in six" as praise, and a long story about the previous
   provider as no complaint about this one.
2. **Conversation.** The turn probabilities of all customer turns are pooled (the strongest and
   the noisy-or), for complaints and unmet expectations with the customer's overall and closing
   sentiment, and a second logistic model
   gives the calibrated probability that the conversation carries the kind. A kind is raised
   when that reaches its threshold, chosen on the dev split for a stated precision
   (`NlpSettings.decision_precision`); evidence from a turn held for listening needs only the
   looser `NlpSettings.listen_precision`, since a person checks it before it becomes work.

Both are plain linear models, trained by `training.decision` on the project's labelled
conversations and stored beside the detector heads (`decision.json`, and `decision.npz` for the
n-gram weights); inference is numpy only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from core.labels import INSIGHT_KINDS, InsightKind
from nlp.features import N_BUCKETS

DECISION_WEIGHTS = Path(__file__).parent / "weights" / "decision.json"
# logits are clipped here so a probability of exactly 0 or 1 stays a finite feature
_EPS = 1e-4
QUESTION_MARKS = ("?", "؟")


@dataclass(frozen=True)
class TurnReading:
    """What the sentence detectors saw in one turn, read in isolation."""

    speaker: str
    # kind -> the turn's best evidence-sentence probability (fragments too short are ignored)
    best: Mapping[str, float]
    # kind -> the turn read whole (a short turn) or the mean of its sentences
    whole: Mapping[str, float]
    # kind -> (p_negative, p_positive) of the best sentence
    best_sentiment: Mapping[str, tuple[float, float]]
    # (p_negative, p_positive) of the whole turn
    sentiment: tuple[float, float]
    # kind -> the best sentence ends with a question mark
    best_is_question: Mapping[str, bool]
    n_words: int
    # kind -> every sentence's evidence probability, in order (a long email has many)
    sentence_scores: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    # the turn's wording: one row of tf-idf weighted hashed character n-grams
    ngrams: sp.csr_matrix | None = None


def _logit(p: float | np.ndarray) -> np.ndarray:
    q = np.clip(np.asarray(p, dtype=np.float64), _EPS, 1 - _EPS)
    return np.asarray(np.log(q / (1 - q)))


def turn_features(kind: str, turn: TurnReading, previous: TurnReading | None) -> list[float]:
    """The dense numbers the turn-in-context model reads for one customer turn and one kind
    (its n-grams come beside them, `TurnReading.ngrams`)."""
    ranked = sorted(turn.sentence_scores[kind], reverse=True)
    own = [
        float(_logit(turn.best[kind])),
        float(_logit(turn.whole[kind])),
        float(_logit(ranked[1] if len(ranked) > 1 else 0.0)),
        float(sum(p >= 0.5 for p in ranked)),
        float(np.log(len(ranked))),
        *turn.best_sentiment[kind],
        float(turn.best_is_question[kind]),
    ]
    others = [float(_logit(turn.best[k])) for k in INSIGHT_KINDS]
    shape = [*turn.sentiment, float(np.log1p(turn.n_words))]
    if previous is None:
        context = [0.0, 0.0, *([0.0] * len(INSIGHT_KINDS)), 0.0, 0.0]
    else:
        context = [
            1.0,
            float(previous.speaker == "agent"),
            *(float(previous.best[k]) for k in INSIGHT_KINDS),
            *previous.sentiment,
        ]
    return own + others + shape + context


def customer_turn_features(
    kind: str, readings: Sequence[TurnReading]
) -> tuple[list[int], list[list[float]]]:
    """The turns a decision reads (customers' turns with text; agents never raise a customer
    insight) and their dense features for one kind."""
    indexes, rows = [], []
    for i, turn in enumerate(readings):
        if turn.speaker == "agent" or not turn.best:
            continue
        indexes.append(i)
        rows.append(turn_features(kind, turn, readings[i - 1] if i else None))
    return indexes, rows


def ngram_rows(readings: Sequence[TurnReading]) -> sp.csr_matrix:
    """The turns' n-gram rows stacked (an empty row where a reading has none)."""
    empty = sp.csr_matrix((1, N_BUCKETS), dtype=np.float32)
    return sp.vstack([r.ngrams if r.ngrams is not None else empty for r in readings]).tocsr()


# kinds whose conversation decision also reads the customer's sentiment: a complaint said with
# thanks and praise is usually praise; an angry customer who also wants ten more seats is still a
# lead, and a calm one who is leaving is still leaving
SENTIMENT_KINDS = frozenset({InsightKind.COMPLAINT, InsightKind.UNMET_EXPECTATION})


def conversation_features(
    kind: str, turn_probs: np.ndarray, customer: Sequence[TurnReading]
) -> list[float]:
    """The numbers the conversation model reads: the turn probabilities pooled (the strongest and
    the noisy-or), and for `SENTIMENT_KINDS` the customer's overall and closing sentiment.
    Nothing counts turns: a one-message email or chat is a whole conversation, and its length is
    no evidence either way (the labelled conversations are 6-16 turns long; a turn count learned
    there would hold short contacts down)."""
    noisy_or = 1.0 - float(np.prod(1.0 - np.clip(turn_probs, 0.0, 1 - _EPS)))
    pooled = [float(_logit(float(turn_probs.max()))), float(_logit(noisy_or))]
    if kind not in SENTIMENT_KINDS:
        return pooled
    polarity = [t.sentiment[1] - t.sentiment[0] for t in customer]
    return pooled + [float(np.mean(polarity)), float(polarity[-1])]


@dataclass(frozen=True)
class LinearModel:
    """Standardised dense inputs (and, for turn models, n-gram rows), then a logistic regression:
    calibrated by its own fit."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    # weights of the n-gram columns; None for a model on dense inputs only
    ngram_coef: np.ndarray | None = None

    def probabilities(self, rows: np.ndarray, ngrams: sp.csr_matrix | None = None) -> np.ndarray:
        z = ((rows - self.mean) / self.scale) @ self.coef + self.intercept
        if self.ngram_coef is not None and ngrams is not None:
            z = z + ngrams @ self.ngram_coef
        return np.asarray(1.0 / (1.0 + np.exp(-z)))

    def to_json(self) -> dict[str, object]:
        return {
            "mean": [round(float(v), 6) for v in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
            "coef": [round(float(v), 6) for v in self.coef],
            "intercept": round(float(self.intercept), 6),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> LinearModel:
        return cls(
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
            coef=np.asarray(data["coef"], dtype=np.float64),
            intercept=float(data["intercept"]),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class KindDecision:
    """One kind's decision for one conversation."""

    kind: str
    # calibrated probability that the conversation carries the kind
    probability: float
    # turn index -> calibrated probability that this customer turn carries it (in context)
    turn_probabilities: Mapping[int, float]

    @property
    def best_turn(self) -> int | None:
        if not self.turn_probabilities:
            return None
        return max(self.turn_probabilities, key=lambda i: self.turn_probabilities[i])


@dataclass(frozen=True)
class DecisionModel:
    version: str
    turn_models: Mapping[str, LinearModel]
    conversation_models: Mapping[str, LinearModel]
    # kind -> rows of (precision target, threshold, dev precision, dev recall), from the dev split
    operating_points: Mapping[str, Sequence[tuple[float, float, float, float]]]
    meta: Mapping[str, object]

    def turn_probabilities(self, kind: str, readings: Sequence[TurnReading]) -> dict[int, float]:
        indexes, rows = customer_turn_features(kind, readings)
        if not rows:
            return {}
        ngrams = ngram_rows([readings[i] for i in indexes])
        probs = self.turn_models[kind].probabilities(np.asarray(rows), ngrams)
        return {i: float(p) for i, p in zip(indexes, probs, strict=True)}

    def decide(self, readings: Sequence[TurnReading]) -> dict[str, KindDecision]:
        decisions = {}
        for kind in INSIGHT_KINDS:
            turn_probs = self.turn_probabilities(kind, readings)
            if not turn_probs:
                decisions[kind] = KindDecision(kind, 0.0, {})
                continue
            customer = [readings[i] for i in turn_probs]
            row = conversation_features(kind, np.asarray(list(turn_probs.values())), customer)
            p = float(self.conversation_models[kind].probabilities(np.asarray([row]))[0])
            decisions[kind] = KindDecision(kind, p, turn_probs)
        return decisions

    def threshold(self, kind: str, precision: float) -> float:
        """The lowest threshold whose dev precision reached `precision` (the most recall at that
        precision); the strictest one on file when none did."""
        points = sorted(self.operating_points[kind])
        for target, threshold, _, _ in points:
            if target >= precision - 1e-9:
                return threshold
        return points[-1][1]

    def save(self, path: Path) -> None:
        """`path` (JSON) and the turn models' n-gram weights beside it (`.npz`, one row per kind,
        float16: half the file, the same decisions), each written atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        ngram_path = path.with_suffix(".npz")
        tmp_npz = path.with_suffix(".tmp.npz")
        weights: dict[str, np.ndarray] = {
            kind: np.asarray(self.turn_models[kind].ngram_coef, dtype=np.float16)
            for kind in INSIGHT_KINDS
            if self.turn_models[kind].ngram_coef is not None
        }
        np.savez_compressed(tmp_npz, **weights)  # type: ignore[arg-type]
        tmp_npz.replace(ngram_path)
        payload = {
            "version": self.version,
            "meta": dict(self.meta),
            "kinds": {
                kind: {
                    "turn": self.turn_models[kind].to_json(),
                    "conversation": self.conversation_models[kind].to_json(),
                    "operating_points": [list(p) for p in self.operating_points[kind]],
                }
                for kind in INSIGHT_KINDS
            },
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> DecisionModel:
        payload = json.loads(path.read_text(encoding="utf-8"))
        kinds = payload["kinds"]
        ngram_path = path.with_suffix(".npz")
        ngrams = dict(np.load(ngram_path)) if ngram_path.exists() else {}
        turn_models = {}
        for kind, spec in kinds.items():
            model = LinearModel.from_json(spec["turn"])
            if kind in ngrams:
                model = replace(model, ngram_coef=ngrams[kind].astype(np.float64))
            turn_models[kind] = model
        return cls(
            version=payload["version"],
            turn_models=turn_models,
            conversation_models={
                k: LinearModel.from_json(v["conversation"]) for k, v in kinds.items()
            },
            operating_points={
                k: [tuple(p) for p in v["operating_points"]]  # type: ignore[misc]
                for k, v in kinds.items()
            },
            meta=payload.get("meta", {}),
        )

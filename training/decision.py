"""Fit the conversation-level decision model (`nlp.decision`): `python -m training.decision`.

Reads the labelled conversations (all but the blind split) through the shipped sentence
detectors, fits the turn-in-context model per kind on customer turns (a turn is positive where the
writer named it as evidence), and fits the conversation model on out-of-fold turn probabilities
(so it learns how much to trust turn scores on conversations the turn model never saw).

Thresholds are chosen per precision target on cross-fitted decisions: the conversations are cut
into folds, each fold is decided by models fitted on the others, and the lowest threshold whose
precision over all of them reaches the target is kept. Every labelled conversation thus serves
both to fit and to choose, which a fixed dev split could not (a few hundred conversations, a few
dozen positives per kind). Writes `nlp/weights/decision.json`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from core.labels import INSIGHT_KINDS
from core.settings import get_settings
from nlp.analyzer import analyzer_for, heads_path
from nlp.decision import (
    DECISION_WEIGHTS,
    DecisionModel,
    LinearModel,
    TurnReading,
    conversation_features,
    customer_turn_features,
    ngram_rows,
)
from training.conversations import LabelledConversation, load_conversations, read_all

PRECISION_TARGETS = (0.8, 0.85, 0.9, 0.95)
# a kind is never raised below this conversation probability, whatever the dev split allows
MIN_THRESHOLD = 0.3
FOLDS = 5


@dataclass(frozen=True)
class DecisionOptions:
    # inverse L2 strength of the turn-in-context model (chosen on the dev split: 1, 3, 10 tried)
    turn_c: float = 3.0
    # the n-gram columns' scale against the standardised dense ones (1 and 2 tried on dev)
    ngram_weight: float = 2.0
    # inverse L2 strength of the conversation model: a few hundred conversations
    conversation_c: float = 1.0
    # folds of the cross-fitted decisions that thresholds are chosen on
    threshold_folds: int = 5
    version: str = "2026.12.3"


def turn_rows(
    kind: str, conversation: LabelledConversation, readings: Sequence[TurnReading]
) -> tuple[list[list[float]], list[int], list[TurnReading]]:
    """Dense feature rows, labels and readings of one conversation's customer turns."""
    indexes, rows = customer_turn_features(kind, readings)
    labels = [int(conversation.carries(kind, i)) for i in indexes]
    return rows, labels, [readings[i] for i in indexes]


def _fit(
    rows: np.ndarray,
    labels: np.ndarray,
    c: float,
    ngrams: sp.csr_matrix | None = None,
    ngram_weight: float = 1.0,
) -> LinearModel:
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    scale[scale < 1e-6] = 1.0
    design: np.ndarray | sp.csr_matrix = (rows - mean) / scale
    if ngrams is not None:
        design = sp.hstack([sp.csr_matrix(design), ngrams * ngram_weight]).tocsr()
    model = LogisticRegression(C=c, max_iter=3000)
    model.fit(design, labels)
    coef = model.coef_[0].astype(np.float64)
    dense = coef[: rows.shape[1]]
    if ngrams is None:
        return LinearModel(mean, scale, dense, float(model.intercept_[0]))
    # stored as float16: round here, so the dev operating points are those of the shipped weights
    sparse = (coef[rows.shape[1] :] * ngram_weight).astype(np.float16).astype(np.float64)
    return LinearModel(mean, scale, dense, float(model.intercept_[0]), sparse)


def fit_kind(
    kind: str,
    train: Sequence[LabelledConversation],
    readings: Mapping[str, Sequence[TurnReading]],
    options: DecisionOptions,
) -> tuple[LinearModel, LinearModel]:
    """The turn-in-context and conversation models of one kind."""
    rows: list[list[float]] = []
    labels: list[int] = []
    groups: list[int] = []
    customer: list[TurnReading] = []
    for g, conversation in enumerate(train):
        conv_rows, conv_labels, conv_turns = turn_rows(
            kind, conversation, readings[conversation.id]
        )
        rows += conv_rows
        labels += conv_labels
        groups += [g] * len(conv_rows)
        customer += conv_turns
    x, y, group = np.asarray(rows), np.asarray(labels), np.asarray(groups)
    ngrams = ngram_rows(customer)
    turn_model = _fit(x, y, options.turn_c, ngrams, options.ngram_weight)
    # out-of-fold turn probabilities: what the conversation model will see on new conversations
    oof = np.zeros(len(y))
    for fit_idx, test_idx in GroupKFold(n_splits=FOLDS).split(x, y, group):
        fold = _fit(x[fit_idx], y[fit_idx], options.turn_c, ngrams[fit_idx], options.ngram_weight)
        oof[test_idx] = fold.probabilities(x[test_idx], ngrams[test_idx])
    conversation_rows, conversation_labels = [], []
    for g, conversation in enumerate(train):
        mask = group == g
        if not mask.any():
            continue
        turns = [customer[i] for i in np.flatnonzero(mask)]
        conversation_rows.append(conversation_features(kind, oof[mask], turns))
        conversation_labels.append(int(kind in conversation.labels))
    conversation_model = _fit(
        np.asarray(conversation_rows), np.asarray(conversation_labels), options.conversation_c
    )
    return turn_model, conversation_model


def _floor4(p: float) -> float:
    """Rounded down, so the stored threshold still raises the conversation it came from."""
    return float(np.floor(float(p) * 1e4) / 1e4)


def operating_points(
    probabilities: np.ndarray, labels: np.ndarray
) -> list[tuple[float, float, float, float]]:
    """Per precision target, the lowest threshold (not under MIN_THRESHOLD) whose precision on
    these rows reaches it (the most recall at that precision), with that precision and recall;
    where no threshold reaches it, the most precise one."""
    positives = max(1, int(labels.sum()))
    stats = []
    for t in sorted({_floor4(p) for p in probabilities if p >= MIN_THRESHOLD} | {1.0}):
        raised = probabilities >= t
        tp = int((raised & (labels == 1)).sum())
        precision = tp / int(raised.sum()) if raised.any() else 1.0
        stats.append((t, round(precision, 4), round(tp / positives, 4)))
    points = []
    for target in PRECISION_TARGETS:
        reaching = [s for s in stats if s[1] >= target]
        t, precision, recall = reaching[0] if reaching else max(stats, key=lambda s: s[1])
        points.append((target, t, precision, recall))
    return points


def _fit_models(
    conversations: Sequence[LabelledConversation],
    readings: Mapping[str, Sequence[TurnReading]],
    options: DecisionOptions,
) -> DecisionModel:
    turn_models, conversation_models = {}, {}
    for kind in INSIGHT_KINDS:
        turn_models[kind], conversation_models[kind] = fit_kind(
            kind, conversations, readings, options
        )
    return DecisionModel(
        version=options.version,
        turn_models=turn_models,
        conversation_models=conversation_models,
        operating_points={},
        meta={},
    )


def threshold_fold(conversation: LabelledConversation, folds: int) -> int:
    """The conversation's fold, from its id: the same on every machine and every run."""
    return int(hashlib.sha1(conversation.id.encode("utf-8")).hexdigest()[:8], 16) % folds


def fold_deciders(
    conversations: Sequence[LabelledConversation],
    readings: Mapping[str, Sequence[TurnReading]],
    options: DecisionOptions,
) -> dict[str, DecisionModel]:
    """conversation id -> the model fitted on every other fold, which decides it."""
    fold_of = [threshold_fold(c, options.threshold_folds) for c in conversations]
    deciders: dict[str, DecisionModel] = {}
    for fold in range(options.threshold_folds):
        model = _fit_models(
            [c for c, f in zip(conversations, fold_of, strict=True) if f != fold], readings, options
        )
        deciders |= {c.id: model for c, f in zip(conversations, fold_of, strict=True) if f == fold}
    return deciders


def cross_fitted_probabilities(
    conversations: Sequence[LabelledConversation],
    readings: Mapping[str, Sequence[TurnReading]],
    options: DecisionOptions,
) -> dict[str, np.ndarray]:
    """kind -> each conversation's decision by the model fitted without its fold."""
    deciders = fold_deciders(conversations, readings, options)
    probabilities = {kind: np.zeros(len(conversations)) for kind in INSIGHT_KINDS}
    for i, conversation in enumerate(conversations):
        decisions = deciders[conversation.id].decide(readings[conversation.id])
        for kind in INSIGHT_KINDS:
            probabilities[kind][i] = decisions[kind].probability
    return probabilities


def fit(
    conversations: Sequence[LabelledConversation],
    readings: Mapping[str, Sequence[TurnReading]],
    options: DecisionOptions = DecisionOptions(),
) -> DecisionModel:
    """The models fitted on every conversation given, with thresholds chosen on their
    cross-fitted decisions."""
    model = _fit_models(conversations, readings, options)
    probabilities = cross_fitted_probabilities(conversations, readings, options)
    points = {}
    for kind in INSIGHT_KINDS:
        labels = np.asarray([int(kind in c.labels) for c in conversations])
        points[kind] = operating_points(probabilities[kind], labels)
    meta = {
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "conversations": len(conversations),
        "options": asdict(options),
    }
    return replace(model, operating_points=points, meta=meta)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DECISION_WEIGHTS)
    parser.add_argument("--cache", type=Path, default=Path("var/cache"))
    parser.add_argument("--turn-c", type=float, default=DecisionOptions.turn_c)
    parser.add_argument("--ngram-weight", type=float, default=DecisionOptions.ngram_weight)
    parser.add_argument("--conversation-c", type=float, default=DecisionOptions.conversation_c)
    args = parser.parse_args(argv)
    settings = get_settings()
    analyzer = analyzer_for(settings.nlp)
    conversations = [c for c in load_conversations() if c.split != "blind"]
    print(f"reading {len(conversations)} conversations ...", flush=True)
    readings = read_all(
        analyzer, conversations, cache=args.cache, weights_dir=heads_path(settings.nlp).parent
    )
    options = DecisionOptions(
        turn_c=args.turn_c, ngram_weight=args.ngram_weight, conversation_c=args.conversation_c
    )
    model = fit(conversations, readings, options)
    model.save(args.out)
    for kind in INSIGHT_KINDS:
        print(kind, model.operating_points[kind])
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

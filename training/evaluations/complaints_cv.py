"""Complaints: k-fold cross-validated macro-F1 of the complaint detector on the complaint tweets.

The published complaint numbers (Preotiuc-Pietro et al. 2019, Jin & Aletras 2020) are
cross-validated over all the tweets, so ours are too, and every test fold must be unseen by every
part of the model. The encoder is first fine-tuned, with the committed model's options, on every
training row except the tweets; each fold then trains its top layers and a new complaint head
together on the other complaint sources and the training folds' tweets (the shipped model also
learns the tweets while its encoder is fine-tuned), Platt-calibrates the head on a held-out
slice, and scores the test fold.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold, train_test_split

from core.labels import InsightKind
from nlp.encoder import E5Encoder, load_package_encoder
from nlp.features import Features, fit_idf, ngram_matrix
from nlp.heads import HeadBundle
from training.datasets import Example, all_examples
from training.evaluations.product import weights_path
from training.evaluations.scoring import COLUMNS, ROW, BinaryScores, binary_scores, cell, rounded
from training.finetune import FinetuneOptions, finetune, frozen_states, pooled
from training.metrics import expected_calibration_error
from training.train import (
    OWN_WEIGHT,
    SEED,
    calibrate,
    label_index,
    labelled_rows,
    rows_for,
    set_seeds,
    task_rows,
)

TASK = InsightKind.COMPLAINT
TWEETS = "complaints"  # the `Example.source` of the Preotiuc-Pietro tweets
# share of the training folds held out of fitting to calibrate the complaint head on
CALIBRATION_SHARE = 0.2
# passes over a fold's rows when the tweet-free encoder learns the training folds' tweets
FOLD_EPOCHS = 2
SUMMARISED = ("macro_f1", "f1", "precision", "recall", "ece")

# published numbers, as fractions (the papers print percentages)
PUBLISHED: list[dict[str, Any]] = [
    {
        "model": "Preotiuc-Pietro et al. 2019 (distant supervision)",
        "f1": 0.79,
        "note": "ACL 2019 abstract ('up to 79 F1'); 10-fold CV on all 3,449 tweets",
    },
    {
        "model": "Jin & Aletras 2020 (transformers)",
        "macro_f1": 0.87,
        "note": "COLING 2020 abstract ('macro F1 up to 87'); CV on all 3,449 tweets",
    },
]


@dataclass(frozen=True)
class FoldScores:
    scores: BinaryScores
    ece: float
    fold: int
    train_tweets: int
    calibration_tweets: int
    calibration: dict[str, float]
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return self.scores.to_json() | {
            "ece": self.ece,
            "fold": self.fold,
            "train_tweets": self.train_tweets,
            "calibration_tweets": self.calibration_tweets,
            "calibration": self.calibration,
            "seconds": self.seconds,
        }


@dataclass(frozen=True)
class ComplaintsCVResult:
    columns: ClassVar[str] = COLUMNS

    folds: int
    tweets: int
    tweet_positives: int
    threshold: float
    per_fold: list[FoldScores]
    encoder_seconds: float
    protocol: str

    def summary(self, measure: str) -> dict[str, float | None]:
        """Mean and sample standard deviation of `measure` over the folds."""
        values = [f[measure] for f in (fold.to_json() for fold in self.per_fold)]
        values = [v for v in values if v is not None]
        return {
            "mean": rounded(np.mean(values)) if values else None,
            "std": rounded(np.std(values, ddof=1)) if len(values) > 1 else None,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "folds": self.folds,
            "tweets": self.tweets,
            "tweet_positives": self.tweet_positives,
            "threshold": self.threshold,
            **{measure: self.summary(measure) for measure in SUMMARISED},
            "per_fold": [fold.to_json() for fold in self.per_fold],
            "encoder_seconds": self.encoder_seconds,
            "protocol": self.protocol,
        }

    def table_rows(self) -> list[str]:
        macro, f1 = self.summary("macro_f1"), self.summary("f1")
        return [
            ROW.format(
                f"macro-F1 mean ± std ({self.folds}-fold CV)",
                self.tweets,
                cell(macro["mean"]),
                f"± {cell(macro['std'])}; Jin & Aletras 2020 0.87",
            ),
            ROW.format(
                f"complaint F1 mean ± std ({self.folds}-fold CV)",
                self.tweets,
                cell(f1["mean"]),
                f"± {cell(f1['std'])}; Preotiuc-Pietro 2019 0.79 F1",
            ),
        ]


def finetune_options() -> FinetuneOptions:
    """The fine-tuning options the committed model was trained with (from its metadata)."""
    recorded = HeadBundle.load(weights_path()).meta.get("finetune")
    return FinetuneOptions(**recorded) if isinstance(recorded, dict) else FinetuneOptions()


def encoder_without_tweets(
    examples: Sequence[Example], texts: Sequence[str], options: FinetuneOptions
) -> tuple[E5Encoder, list[torch.Tensor], int]:
    """The encoder fine-tuned as `make train` does, minus the complaint tweets (all of them, so
    every CV test fold is unseen); returns it with the frozen layers' cached states and the index
    of its first trained layer."""
    encoder, tokenizer = load_package_encoder()
    start = encoder.cfg.layers - options.trainable_layers
    states = frozen_states(encoder, tokenizer, texts, start)
    idf = fit_idf([ex.text for ex in examples if ex.split == "train" and ex.source != TWEETS])
    tasks = task_rows(examples, "train")
    tweets = np.array([ex.source == TWEETS for ex in examples])
    for rows in tasks.values():
        rows.mask[tweets] = False
        rows.weight[tweets] = 0.0
    # the heads trained alongside are dropped: each fold trains its own complaint head
    finetune(encoder, states, ngram_matrix(texts, idf), tasks, options)
    return encoder, states, start


def evaluate_complaints_cv(
    data: Path, options: FinetuneOptions, folds: int = 5, threshold: float = 0.5
) -> ComplaintsCVResult:
    """Each fold, from the tweet-free encoder: the top layers and a new complaint head trained
    together on the other complaint sources' training rows plus the training folds' tweets, the
    head Platt-calibrated on the other sources' dev rows plus a held-out slice of those tweets,
    and scored on the test fold."""
    examples = all_examples(data)
    texts = [ex.text for ex in examples]
    started = time.time()
    encoder, states, start = encoder_without_tweets(examples, texts, options)
    encoder_seconds = round(time.time() - started, 1)
    tweet_free = {k: v.clone() for k, v in encoder.layers[start:].state_dict().items()}
    fold_options = replace(options, epochs=FOLD_EPOCHS)
    tweets = np.array([i for i, ex in enumerate(examples) if ex.source == TWEETS])
    y_tweets = np.array([label_index(examples[i], TASK) for i in tweets])
    others_fit = [i for i in labelled_rows(examples, "train", TASK) if examples[i].source != TWEETS]
    others_cal = [i for i in labelled_rows(examples, "dev", TASK) if examples[i].source != TWEETS]
    idf_texts = [ex.text for ex in examples if ex.split == "train" and ex.source != TWEETS]

    def features(ngrams: Any, rows: Sequence[int]) -> Features:
        return Features(pooled(encoder, [states[i] for i in rows], start), ngrams[list(rows)])

    per_fold = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED % (2**32))
    for k, (train_idx, test_idx) in enumerate(splitter.split(tweets, y_tweets)):
        fold_started = time.time()
        fit_idx, cal_idx = train_test_split(
            train_idx,
            test_size=CALIBRATION_SHARE,
            stratify=y_tweets[train_idx],
            random_state=SEED % (2**32) + k,
        )
        set_seeds(SEED)
        encoder.layers[start:].load_state_dict(tweet_free)
        ngrams = ngram_matrix(texts, fit_idf(idf_texts + [texts[i] for i in tweets[fit_idx]]))
        fit_rows = others_fit + tweets[fit_idx].tolist()
        _, heads = finetune(
            encoder, states, ngrams, {TASK: rows_for(examples, fit_rows, TASK)}, fold_options
        )
        head = heads[TASK]
        cal_rows = others_cal + tweets[cal_idx].tolist()
        y_cal = np.array([label_index(examples[i], TASK) for i in cal_rows])
        calibration = calibrate(head, features(ngrams, cal_rows), y_cal)
        probs = head.probabilities(features(ngrams, tweets[test_idx].tolist()))
        fold = FoldScores(
            scores=binary_scores(y_tweets[test_idx], probs, threshold),
            ece=expected_calibration_error(y_tweets[test_idx], probs),
            fold=k,
            train_tweets=len(fit_idx),
            calibration_tweets=len(cal_idx),
            calibration=calibration,
            seconds=round(time.time() - fold_started, 1),
        )
        per_fold.append(fold)
        print(
            f"  complaints fold {k + 1}/{folds}: macro-F1 {cell(fold.scores.macro_f1)} "
            f"({fold.seconds:.0f}s)",
            flush=True,
        )

    return ComplaintsCVResult(
        folds=folds,
        tweets=len(tweets),
        tweet_positives=int(y_tweets.sum()),
        threshold=threshold,
        per_fold=per_fold,
        encoder_seconds=encoder_seconds,
        protocol=(
            f"encoder top layers fine-tuned ({options}) on all training rows but the tweets; "
            f"StratifiedKFold({folds}, shuffle, seed {SEED}) over the complaint tweets; per fold, "
            f"from that encoder: idf refitted, top layers and a new complaint head trained "
            f"together for {FOLD_EPOCHS} epochs on own+CLINC train rows and "
            f"{1 - CALIBRATION_SHARE:.0%} of the training folds' tweets (OWN_WEIGHT {OWN_WEIGHT}, "
            f"classes balanced), Platt scaling on own+CLINC dev rows and the other "
            f"{CALIBRATION_SHARE:.0%}; scored on the test fold"
        ),
    )

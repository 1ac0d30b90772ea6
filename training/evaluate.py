"""Quality evaluation (`make eval`): `python -m training.evaluate --data ../shared/data`.

Prints a table and writes `bench/results/quality.json`:

1. DeepSentiPers dev split (the rows `make train` holds out): binary and 3-way macro-F1 of the
   committed model, plus 5-way macro-F1 of a 5-class head fitted here on the train split only
   (it is not shipped; it exists to compare with the published multi-class numbers).
2. Complaints (the given 70%): 5-fold cross-validated macro-F1 of the complaint detector. The
   encoder is first fine-tuned, with the committed model's options, on every training row except
   the tweets; each fold then trains its top layers and a new complaint head together on the
   other complaint sources and the training folds' tweets (the shipped model also learns the
   tweets while its encoder is fine-tuned), Platt-calibrates the head on a held-out slice, and
   scores the test fold, which no part of the model has seen.
3. BANKING77 `terminate_account` and NLU++ banking churn / upsell one-vs-rest F1 on the dev split.
4. ParsiNLU sentiment dev (food + movie, the overall aspect): 3-way and binary macro-F1.
5. The project's own labelled sets (dev split): F1 / precision / recall per label and language,
   sentiment per language, calibration error, and whether agent rows raise labels.
6. The challenge sets (`labelled/challenge/`): the same measures on utterances written later by
   other writers, in their own style, never trained on (but used to choose between training
   recipes, see `labelled/DATA_CARD.md`). They show how far the dev-split numbers carry to text
   the model has not seen the like of.
7. The blind sets (`labelled/blind/`): the same measures on rows written from the label guide
   alone after the challenge sets had been used to choose recipes; no choice of the shipped model
   has looked at them.
8. The labelled conversations' dev split (`labelled/conversations/`): per conversation, through
   the product's decision (`training.conversation_eval`): precision, recall and F1 per kind and
   language, false-alarm conversations, queue accuracy, a precision-recall table, calibration of
   the decision and of the turn evidence, sentiment agreement; beside the sentence-level reading.
9. The same on the blind conversation split (`labelled/conversations/blind/`), written after the
   decision recipe was fixed.

Items 1 (binary, 3-way) and 3-7 score the committed weights through `load_analyzer().classify`,
the code path of `hamsu classify`, with the decision thresholds from settings. Published baselines
and the issue's targets sit next to our numbers, each target with pass/fail.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from core.machine import machine_facts
from core.settings import get_settings
from nlp.analyzer import Analyzer, analyzer_for, heads_path
from nlp.encoder import E5Encoder, load_package_encoder
from nlp.features import Features, fit_idf, ngram_matrix
from nlp.heads import BINARY_TASKS, SENTIMENT_LABELS, HeadBundle
from training.conversation_eval import evaluate_conversations
from training.conversation_eval import table_rows as conversation_rows
from training.conversations import BLIND_DIR as CONVERSATIONS_BLIND_DIR
from training.conversations import CONVERSATIONS_DIR, load_conversations, read_all
from training.datasets import (
    BLIND_DIR,
    CHALLENGE_DIR,
    Example,
    all_examples,
    banking77,
    complaints,
    deepsentipers,
    nlupp_banking,
    own_examples,
    stable_split,
)
from training.embedding_cache import embed_cached
from training.finetune import FinetuneOptions, finetune, frozen_states, pooled
from training.metrics import expected_calibration_error
from training.train import (
    OWN_WEIGHT,
    SEED,
    _rows,
    _target,
    calibrate,
    fit_head,
    rows_for,
    set_seeds,
    task_rows,
)

DEFAULT_OUT = Path("bench/results/quality.json")
# share of the training folds held out of fitting to calibrate the complaint head on
CALIBRATION_SHARE = 0.2
# passes over a fold's rows when the tweet-free encoder learns the training folds' tweets
FOLD_EPOCHS = 2
LANGUAGES = ("en", "fa")
FIVE_WAY = ("furious", "angry", "neutral", "happy", "delighted")  # DeepSentiPers -2..2
OVERALL_ASPECT = "کلی"

# published numbers, as fractions (the papers print percentages)
PUBLISHED: dict[str, list[dict[str, Any]]] = {
    "sentipers": [
        {
            "model": "ParsBERT v2 (Farahani et al. 2021)",
            "binary_f1": 0.9242,
            "multiclass_f1": 0.7131,
            "note": "hooshvare/parsbert README; its DeepSentiPers split may differ from ours",
        },
        {
            "model": "DeepSentiPers BLSTM (Sharami et al. 2020)",
            "binary_f1": 0.9198,
            "multiclass_f1": 0.6933,
            "note": "arXiv 2004.05328; official test.csv (not given to us)",
        },
    ],
    "complaints": [
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
    ],
}
TARGETS = {
    "persian_sentiment_binary": 0.88,
    "persian_sentiment_3way": 0.65,
    "complaints_macro_f1": 0.85,
    "own_label_f1": 0.85,
}


# ---- scoring helpers ---------------------------------------------------------------------------
def _r(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def binary_scores(
    y: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray, threshold: float
) -> dict[str, Any]:
    """F1 / precision / recall of the positive class at `threshold`; None where undefined (no
    positives for recall and F1, no predicted positives for precision)."""
    y_arr = np.asarray(y, dtype=int)
    pred = np.asarray(scores, dtype=float) >= threshold
    tp = int((pred & (y_arr == 1)).sum())
    fp = int((pred & (y_arr == 0)).sum())
    fn = int((~pred & (y_arr == 1)).sum())
    positives = tp + fn
    return {
        "f1": _r(2 * tp / (2 * tp + fp + fn)) if positives else None,
        "precision": _r(tp / (tp + fp)) if tp + fp else None,
        "recall": _r(tp / positives) if positives else None,
        "macro_f1": _r(
            f1_score(y_arr, pred.astype(int), average="macro", labels=[0, 1], zero_division=0)
        ),
        "n": len(y_arr),
        "positives": positives,
        "predicted_positive": tp + fp,
    }


def sentiment_scores(gold: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """3-way macro-F1 and the SentiPers-style binary macro-F1 (neutral rows dropped, positive vs
    negative by p(positive) > p(negative), i.e. polarity > 0)."""
    y = np.array([SENTIMENT_LABELS.index(g) for g in gold], dtype=int)
    pred = np.array([SENTIMENT_LABELS.index(r["sentiment"]["label"]) for r in rows], dtype=int)
    polarity = np.array([r["sentiment"]["polarity"] for r in rows], dtype=float)
    polar = y != 1
    return {
        "macro_f1_3way": _r(f1_score(y, pred, labels=[0, 1, 2], average="macro", zero_division=0))
        if len(y)
        else None,
        "accuracy_3way": _r((pred == y).mean()) if len(y) else None,
        "binary_macro_f1": _r(
            f1_score(
                y[polar] == 2,
                polarity[polar] > 0,
                average="macro",
                labels=[False, True],
                zero_division=0,
            )
        )
        if polar.any()
        else None,
        "n": int(len(y)),
        "n_binary": int(polar.sum()),
        "gold_counts": {SENTIMENT_LABELS[k]: int(v) for k, v in sorted(Counter(y).items())},
    }


# ---- the product's code path ------------------------------------------------------------------
def committed_analyzer() -> Analyzer:
    """The analyzer `hamsu classify` builds from the settings."""
    return analyzer_for(get_settings().nlp)


def weights_path() -> Path:
    return heads_path(get_settings().nlp)


def threshold(analyzer: Analyzer, task: str) -> float:
    # the same lookup the analyzer applies when it raises an insight
    return float(analyzer.thresholds.get(task, 0.5))


def classify_rows(
    analyzer: Analyzer, texts: Sequence[str], batch: int = 256
) -> list[dict[str, Any]]:
    """`analyzer.classify` in batches, exactly as `hamsu classify` runs it."""
    return list(analyzer.classify_stream(texts, batch=batch))


# ---- 5. own labelled sets ------------------------------------------------------------------------
def evaluate_own(
    examples: Sequence[Example], analyzer: Analyzer | None = None, batch: int = 256
) -> dict[str, Any]:
    """Scores the committed model on own labelled rows (`training.datasets.own_examples`): per
    label and language F1 / precision / recall at the settings threshold, sentiment per language,
    expected calibration error per label, false alarms on hard negatives, and agent rows."""
    analyzer = analyzer or committed_analyzer()
    rows = classify_rows(analyzer, [ex.text for ex in examples], batch)
    langs = sorted({ex.lang for ex in examples})
    groups = {lang: [i for i, ex in enumerate(examples) if ex.lang == lang] for lang in langs}
    groups["all"] = list(range(len(examples)))

    labels: dict[str, dict[str, Any]] = {}
    ece: dict[str, dict[str, Any]] = {}
    for task in BINARY_TASKS:
        thr = threshold(analyzer, task)
        labels[task], ece[task] = {"threshold": thr}, {}
        for group, idx in groups.items():
            idx = [i for i in idx if task in examples[i].binary]
            y = np.array([examples[i].binary[task] for i in idx], dtype=int)
            p = np.array([rows[i][task] for i in idx], dtype=float)
            labels[task][group] = binary_scores(y, p, thr)
            ece[task][group] = expected_calibration_error(y, p) if len(y) else None

    sentiment = {}
    for group, idx in groups.items():
        idx = [i for i in idx if examples[i].sentiment in SENTIMENT_LABELS]
        sentiment[group] = sentiment_scores(
            [examples[i].sentiment or "" for i in idx], [rows[i] for i in idx]
        )

    def flagged(i: int) -> list[str]:
        return [t for t in BINARY_TASKS if rows[i][t] >= threshold(analyzer, t)]

    agents = [i for i, ex in enumerate(examples) if ex.speaker == "agent"]
    agent_hits = [i for i in agents if flagged(i)]
    inferred = {i for i, row in enumerate(rows) if row.get("speaker_inferred")}
    customers = [i for i, ex in enumerate(examples) if ex.speaker != "agent"]
    hard = {
        group: [i for i in idx if examples[i].hard_negative and examples[i].speaker != "agent"]
        for group, idx in groups.items()
    }
    return {
        "n": len(examples),
        "n_by_language": {lang: len(groups[lang]) for lang in langs},
        "labels": labels,
        "sentiment": sentiment,
        "ece": ece,
        "agent_rows": {
            "n": len(agents),
            "flagged": len(agent_hits),
            "flagged_rate": _r(len(agent_hits) / len(agents)) if agents else None,
            "by_label": {
                t: sum(rows[i][t] >= threshold(analyzer, t) for i in agents) for t in BINARY_TASKS
            },
            "examples": [{"text": examples[i].text, "labels": flagged(i)} for i in agent_hits[:5]],
            "taken_as_agent": sum(i in inferred for i in agents),
            "note": "classified without their speaker, as a plain line; conversation analysis "
            "skips agent turns",
        },
        "customer_rows_taken_as_agent": {
            "n": len(customers),
            "taken": sum(i in inferred for i in customers),
            "with_an_insight_label": sum(
                i in inferred and any(examples[i].binary.values()) for i in customers
            ),
            "examples": [examples[i].text for i in customers if i in inferred][:5],
        },
        "hard_negatives": {
            group: {
                "n": len(idx),
                "false_alarm_rate": _r(sum(bool(flagged(i)) for i in idx) / len(idx))
                if idx
                else None,
            }
            for group, idx in hard.items()
        },
    }


# ---- 1. DeepSentiPers ----------------------------------------------------------------------------
def _deepsentipers_values(data: Path) -> list[int]:
    """The -2..2 labels of original.csv, in the order `training.datasets.deepsentipers` reads."""
    with (data / "fa_sentiment_deepsentipers" / "original.csv").open(encoding="utf-8") as fh:
        return [int(label) for _text, label in csv.reader(fh)]


def evaluate_deepsentipers(data: Path, analyzer: Analyzer, cache: Path) -> dict[str, Any]:
    examples = list(deepsentipers(data))
    values = _deepsentipers_values(data)
    dev = [i for i, ex in enumerate(examples) if ex.split == "dev"]
    train = [i for i, ex in enumerate(examples) if ex.split == "train"]
    texts = [examples[i].text for i in dev]
    rows = classify_rows(analyzer, texts)
    product = sentiment_scores([examples[i].sentiment or "" for i in dev], rows)

    # the committed sentiment head on whole texts (cached embeddings), as the model card scores it
    all_texts = [ex.text for ex in examples]
    embeddings = embed_cached(analyzer.embedder, all_texts, cache)
    features = Features(embeddings, ngram_matrix(all_texts, analyzer.idf))
    probs = analyzer.detectors["sentiment"].predict(features.rows(dev))
    head_rows = [
        {"sentiment": {"label": SENTIMENT_LABELS[int(p.argmax())], "polarity": float(p[2] - p[0])}}
        for p in probs
    ]
    whole_text = sentiment_scores([examples[i].sentiment or "" for i in dev], head_rows)

    # 5-way: a separate 5-class head on the train split, fit_head settings of training.train
    started = time.time()
    set_seeds(SEED)
    y5 = np.array([values[i] + 2 for i in range(len(examples))], dtype=int)
    head = fit_head(features.rows(train), y5[train], np.ones(len(train)), len(FIVE_WAY))
    pred5 = head.probabilities(features.rows(dev)).argmax(axis=1)
    per_class = f1_score(y5[dev], pred5, labels=range(5), average=None, zero_division=0)
    five_way = {
        "macro_f1": _r(f1_score(y5[dev], pred5, labels=range(5), average="macro", zero_division=0)),
        "accuracy": _r((pred5 == y5[dev]).mean()),
        "f1_by_class": {name: _r(v) for name, v in zip(FIVE_WAY, per_class, strict=True)},
        "gold_counts": {FIVE_WAY[k]: int(v) for k, v in sorted(Counter(y5[dev]).items())},
        "train_rows": len(train),
        "fit_seconds": round(time.time() - started, 1),
        "note": "5-class head fitted here on the train split (not shipped; uncalibrated argmax)",
    }
    return {
        "split": "dev rows of training.datasets.stable_split (held out by make train)",
        "n_dev": len(dev),
        "committed_model": product,
        "committed_head_whole_text": whole_text,
        "five_way": five_way,
        "note": "published numbers use the official test.csv, which we do not have",
    }


# ---- 2. complaints cross-validation ------------------------------------------------------------
def encoder_without_tweets(
    examples: Sequence[Example], texts: Sequence[str], options: FinetuneOptions
) -> tuple[E5Encoder, list[torch.Tensor], int]:
    """The encoder fine-tuned as `make train` does, minus the complaint tweets (all of them, so
    every CV test fold is unseen); returns it with the frozen layers' cached states and the index
    of its first trained layer."""
    encoder, tokenizer = load_package_encoder()
    start = encoder.cfg.layers - options.trainable_layers
    states = frozen_states(encoder, tokenizer, texts, start)
    idf = fit_idf([ex.text for ex in examples if ex.split == "train" and ex.source != "complaints"])
    tasks = task_rows(examples, "train")
    tweets = np.array([ex.source == "complaints" for ex in examples])
    for rows in tasks.values():
        rows.mask[tweets] = False
        rows.weight[tweets] = 0.0
    # the heads trained alongside are dropped: each fold trains its own complaint head
    finetune(encoder, states, ngram_matrix(texts, idf), tasks, options)
    return encoder, states, start


def _fold_features(
    encoder: E5Encoder,
    states: Sequence[torch.Tensor],
    start: int,
    ngrams: Any,
    rows: Sequence[int],
) -> Features:
    return Features(pooled(encoder, [states[i] for i in rows], start), ngrams[list(rows)])


def evaluate_complaints_cv(
    data: Path, options: FinetuneOptions, folds: int = 5, threshold_value: float = 0.5
) -> dict[str, Any]:
    """k-fold CV over the complaint tweets. The shipped model learns the tweets while its encoder
    is fine-tuned, so every fold does the same from the tweet-free encoder: the top layers and a
    new complaint head are trained together on the other complaint sources' training rows plus
    the training folds' tweets, the head is Platt-calibrated on the other sources' dev rows plus
    a held-out slice of those tweets, and scored on the test fold."""
    task = "complaint"
    examples = all_examples(data)
    texts = [ex.text for ex in examples]
    started = time.time()
    encoder, states, start = encoder_without_tweets(examples, texts, options)
    encoder_seconds = round(time.time() - started, 1)
    tweet_free = {k: v.clone() for k, v in encoder.layers[start:].state_dict().items()}
    fold_options = replace(options, epochs=FOLD_EPOCHS)
    tweets = np.array([i for i, ex in enumerate(examples) if ex.source == "complaints"])
    y_tweets = np.array([_target(examples[i], task) for i in tweets])
    others_fit = [i for i in _rows(examples, "train", task) if examples[i].source != "complaints"]
    others_cal = [i for i in _rows(examples, "dev", task) if examples[i].source != "complaints"]
    idf_texts = [ex.text for ex in examples if ex.split == "train" and ex.source != "complaints"]

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
        idf = fit_idf(idf_texts + [texts[i] for i in tweets[fit_idx]])
        ngrams = ngram_matrix(texts, idf)
        fit_rows = others_fit + tweets[fit_idx].tolist()
        _, heads = finetune(
            encoder, states, ngrams, {task: rows_for(examples, fit_rows, task)}, fold_options
        )
        head = heads[task]
        cal_rows = others_cal + tweets[cal_idx].tolist()
        y_cal = np.array([_target(examples[i], task) for i in cal_rows])
        cal_features = _fold_features(encoder, states, start, ngrams, cal_rows)
        calibration = calibrate(head, cal_features, y_cal)
        test_features = _fold_features(encoder, states, start, ngrams, tweets[test_idx].tolist())
        probs = head.probabilities(test_features)
        scores = binary_scores(y_tweets[test_idx], probs, threshold_value)
        scores["ece"] = expected_calibration_error(y_tweets[test_idx], probs)
        scores.update(
            fold=k,
            train_tweets=len(fit_idx),
            calibration_tweets=len(cal_idx),
            calibration=calibration,
            seconds=round(time.time() - fold_started, 1),
        )
        per_fold.append(scores)
        print(
            f"  complaints fold {k + 1}/{folds}: macro-F1 {scores['macro_f1']:.3f} "
            f"({scores['seconds']:.0f}s)",
            flush=True,
        )

    def stat(key: str) -> dict[str, float | None]:
        values = [f[key] for f in per_fold if f[key] is not None]
        return {
            "mean": _r(np.mean(values)) if values else None,
            # sample standard deviation over folds
            "std": _r(np.std(values, ddof=1)) if len(values) > 1 else None,
        }

    return {
        "folds": folds,
        "tweets": len(tweets),
        "tweet_positives": int(y_tweets.sum()),
        "threshold": threshold_value,
        "macro_f1": stat("macro_f1"),
        "f1": stat("f1"),
        "precision": stat("precision"),
        "recall": stat("recall"),
        "ece": stat("ece"),
        "per_fold": per_fold,
        "encoder_seconds": encoder_seconds,
        "protocol": (
            f"encoder top layers fine-tuned ({options}) on all training rows but the tweets; "
            f"StratifiedKFold({folds}, shuffle, seed {SEED}) over the complaint tweets; per fold, "
            f"from that encoder: idf refitted, top layers and a new complaint head trained "
            f"together for {FOLD_EPOCHS} epochs on own+CLINC train rows and "
            f"{1 - CALIBRATION_SHARE:.0%} of the training folds' tweets (OWN_WEIGHT {OWN_WEIGHT}, "
            f"classes balanced), Platt scaling on own+CLINC dev rows and the other "
            f"{CALIBRATION_SHARE:.0%}; scored on the test fold"
        ),
    }


def evaluate_complaints_committed(data: Path, analyzer: Analyzer) -> dict[str, Any]:
    """The committed model on the complaint tweets of the dev split (what make train holds out)."""
    dev = [ex for ex in complaints(data) if ex.split == "dev"]
    rows = classify_rows(analyzer, [ex.text for ex in dev])
    return binary_scores(
        [ex.binary["complaint"] for ex in dev],
        [r["complaint"] for r in rows],
        threshold(analyzer, "complaint"),
    )


# ---- 3. intents --------------------------------------------------------------------------------
def evaluate_intents(data: Path, analyzer: Analyzer) -> dict[str, Any]:
    with (data / "en_intent_banking77" / "train.csv").open(encoding="utf-8") as fh:
        b77 = [r for r in csv.DictReader(fh) if stable_split(f"b77-{r['text']}") == "dev"]
    rows = classify_rows(analyzer, [r["text"] for r in b77])
    thr = threshold(analyzer, "churn_risk")
    y = [int(r["category"] == "terminate_account") for r in b77]
    scores = [row["churn_risk"] for row in rows]
    held_out = {ex.text for ex in banking77(data) if ex.split == "dev"}
    sub = [i for i, r in enumerate(b77) if r["text"] in held_out]
    false_alarms = Counter(
        r["category"] for r, s, t in zip(b77, scores, y, strict=True) if t == 0 and s >= thr
    )
    banking = {
        "all_intents": binary_scores(y, scores, thr),
        "training_dev_rows": binary_scores([y[i] for i in sub], [scores[i] for i in sub], thr),
        "false_alarm_intents": dict(false_alarms.most_common(8)),
        "note": (
            "all_intents: every train.csv row in the dev split (77 intents); training_dev_rows: "
            "the dev part of the rows make train samples (terminate_account + 2,500 others)"
        ),
    }
    nlupp = [ex for ex in nlupp_banking(data) if ex.split == "dev"]
    nrows = classify_rows(analyzer, [ex.text for ex in nlupp])
    return {
        "banking77_terminate_account": banking,
        "nlupp_cancel_churn": binary_scores(
            [ex.binary["churn_risk"] for ex in nlupp],
            [r["churn_risk"] for r in nrows],
            thr,
        )
        | {
            "note": "proxy: cancel_close_leave_freeze unless the text says 'freeze'; broader than "
            "churn (it includes stopping a direct debit or an appointment, which training "
            "teaches as not churn), so a good churn model scores low precision here"
        },
        "nlupp_more_higher_after_upsell": binary_scores(
            [ex.binary["upsell"] for ex in nlupp],
            [r["upsell"] for r in nrows],
            threshold(analyzer, "upsell"),
        )
        | {
            "note": "proxy: more_higher_after marks 'more/higher' in any sense ('how much more did "
            "I spend'), not buying intent; not used in training"
        },
    }


# ---- 4. ParsiNLU ---------------------------------------------------------------------------------
def evaluate_parsinlu(data: Path, analyzer: Analyzer) -> dict[str, Any]:
    folder = data / "fa_sentiment_parsinlu"
    items = []
    for domain in ("food", "movie"):
        training_file = {
            json.loads(line)["review"]
            for line in (folder / f"{domain}.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()
        }
        for line in (folder / f"{domain}_dev.jsonl").read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            if row["aspect"] != OVERALL_ASPECT:
                continue
            value = int(row["label"])
            if value == 3:  # mixed / borderline: no single label (as in training)
                continue
            review = row["review"]
            seen = review in training_file and stable_split(f"pnlu-{review}") == "train"
            label = SENTIMENT_LABELS[(value > 0) - (value < 0) + 1]
            items.append((domain, review, label, seen))
    rows = classify_rows(analyzer, [review for _, review, _, _ in items])

    def subset(keep: Callable[[tuple[str, str, str, bool]], bool]) -> dict[str, Any]:
        idx = [i for i, item in enumerate(items) if keep(item)]
        return sentiment_scores([items[i][2] for i in idx], [rows[i] for i in idx])

    return {
        "all": subset(lambda item: True),
        "food": subset(lambda item: item[0] == "food"),
        "movie": subset(lambda item: item[0] == "movie"),
        "unseen_in_training": subset(lambda item: not item[3]),
        "rows_seen_in_training": sum(item[3] for item in items),
        "note": (
            "overall-aspect rows, -2..2 mapped to negative/neutral/positive, mixed (3) dropped. "
            "Most dev reviews also appear in food.jsonl / movie.jsonl, which training reads; "
            "rows_seen_in_training of them fell in its train split, so 'all' is optimistic and "
            "'unseen_in_training' is the clean (small) subset"
        ),
    }


# ---- targets, table, report --------------------------------------------------------------------
def _get(report: Mapping[str, Any], *path: str) -> Any:
    node: Any = report
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def check_targets(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets with the measured value and pass/fail (None: not measured)."""
    checks: list[tuple[str, str, float, Any, bool]] = [
        (
            "persian_sentiment_binary",
            "DeepSentiPers dev",
            TARGETS["persian_sentiment_binary"],
            _get(report, "deepsentipers", "committed_model", "binary_macro_f1"),
            True,
        ),
        (
            "persian_sentiment_3way",
            "DeepSentiPers dev",
            TARGETS["persian_sentiment_3way"],
            _get(report, "deepsentipers", "committed_model", "macro_f1_3way"),
            True,
        ),
        (
            "persian_sentiment_binary",
            "ParsiNLU dev, unseen",
            TARGETS["persian_sentiment_binary"],
            _get(report, "parsinlu", "unseen_in_training", "binary_macro_f1"),
            False,
        ),
        (
            "persian_sentiment_3way",
            "ParsiNLU dev, unseen",
            TARGETS["persian_sentiment_3way"],
            _get(report, "parsinlu", "unseen_in_training", "macro_f1_3way"),
            False,
        ),
        (
            "persian_sentiment_binary",
            "own fa dev",
            TARGETS["persian_sentiment_binary"],
            _get(report, "own", "sentiment", "fa", "binary_macro_f1"),
            False,
        ),
        (
            "persian_sentiment_3way",
            "own fa dev",
            TARGETS["persian_sentiment_3way"],
            _get(report, "own", "sentiment", "fa", "macro_f1_3way"),
            False,
        ),
        (
            "complaints_macro_f1",
            "complaints 5-fold CV mean",
            TARGETS["complaints_macro_f1"],
            _get(report, "complaints_cv", "macro_f1", "mean"),
            True,
        ),
    ]
    for task in BINARY_TASKS:
        for lang in LANGUAGES:
            checks.append(
                (
                    f"own_{task}_f1_{lang}",
                    f"own {lang} dev",
                    TARGETS["own_label_f1"],
                    _get(report, "own", "labels", task, lang, "f1"),
                    True,
                )
            )
    return [
        {
            "target": name,
            "measured_on": dataset,
            "minimum": minimum,
            "value": value,
            "pass": None if value is None else bool(value >= minimum),
            "primary": primary,
        }
        for name, dataset, minimum, value, primary in checks
    ]


def _f(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "–"


def _own_rows(own: Mapping[str, Any], row: str) -> list[str]:
    lines: list[str] = []
    for task in BINARY_TASKS:
        for lang in (*LANGUAGES, "all"):
            s = own["labels"][task].get(lang)
            if not s:
                continue
            lines.append(
                row.format(
                    f"{task} [{lang}] F1",
                    s["n"],
                    _f(s["f1"]),
                    f"P {_f(s['precision'])} R {_f(s['recall'])} pos {s['positives']}"
                    + (f" ECE {_f(own['ece'][task]['all'])}" if lang == "all" else ""),
                )
            )
    for lang in (*LANGUAGES, "all"):
        s = own["sentiment"].get(lang)
        if s:
            lines.append(
                row.format(
                    f"sentiment [{lang}] 3-way macro-F1",
                    s["n"],
                    _f(s["macro_f1_3way"]),
                    f"binary {_f(s['binary_macro_f1'])}",
                )
            )
    a = own["agent_rows"]
    lines.append(
        row.format(
            "agent rows raising any label (rate)",
            a["n"],
            _f(a["flagged_rate"]),
            f"{a['flagged']} flagged",
        )
    )
    c = own.get("customer_rows_taken_as_agent")
    if c:
        lines.append(
            row.format(
                "customer rows taken as an agent's (no speaker)",
                c["n"],
                str(c["taken"]),
                f"{c['with_an_insight_label']} with an insight label",
            )
        )
    hn = own["hard_negatives"].get("all", {})
    lines.append(
        row.format(
            "hard negatives raising any label (rate)",
            hn.get("n", 0),
            _f(hn.get("false_alarm_rate")),
            "",
        )
    )
    return lines


def format_table(report: Mapping[str, Any]) -> str:
    lines: list[str] = []
    row = "{:<48} {:>6} {:>9}  {}"

    def head(title: str) -> None:
        lines.extend(["", title, row.format("metric", "n", "ours", "reference"), "-" * 92])

    model = report.get("model", {})
    lines.append(
        f"Hamsu quality — weights {model.get('version', '?')} (trained "
        f"{model.get('trained_at', '?')}), {report.get('date', '?')}, "
        f"{_get(report, 'machine', 'usable_cores')} cores, "
        f"{_f(report.get('wall_seconds'), 0)} s"
    )
    pub = {p["model"].split(" (")[0]: p for p in PUBLISHED["sentipers"]}
    dsp = report.get("deepsentipers")
    if isinstance(dsp, Mapping):
        head("1. DeepSentiPers dev (stable_split; committed model via classify)")
        cm = dsp["committed_model"]
        ref_b = ", ".join(f"{k} {_f(v['binary_f1'])}" for k, v in pub.items())
        ref_m = ", ".join(f"{k} {_f(v['multiclass_f1'])}" for k, v in pub.items())
        lines.append(
            row.format(
                "binary macro-F1 (neutral dropped)",
                cm["n_binary"],
                _f(cm["binary_macro_f1"]),
                f"{ref_b} (official test)",
            )
        )
        lines.append(row.format("3-way macro-F1", cm["n"], _f(cm["macro_f1_3way"]), ""))
        five = dsp["five_way"]
        lines.append(
            row.format(
                "5-way macro-F1 (head fitted on train, not shipped)",
                dsp["n_dev"],
                _f(five["macro_f1"]),
                f"{ref_m} (multi-class)",
            )
        )
        wt = dsp["committed_head_whole_text"]
        lines.append(
            row.format(
                "  head on whole text: binary / 3-way",
                cm["n"],
                _f(wt["binary_macro_f1"]),
                f"3-way {_f(wt['macro_f1_3way'])}",
            )
        )
    cv = report.get("complaints_cv")
    if isinstance(cv, Mapping):
        head(f"2. Complaints ({cv['tweets']} tweets, {cv['folds']}-fold CV, retrained per fold)")
        m, f = cv["macro_f1"], cv["f1"]
        lines.append(
            row.format(
                "macro-F1 mean ± std",
                cv["tweets"],
                _f(m["mean"]),
                f"± {_f(m['std'])}; Jin & Aletras 2020 0.87",
            )
        )
        lines.append(
            row.format(
                "complaint F1 mean ± std",
                cv["tweets"],
                _f(f["mean"]),
                f"± {_f(f['std'])}; Preotiuc-Pietro 2019 0.79 F1",
            )
        )
        cd = report.get("complaints_committed_dev")
        if isinstance(cd, Mapping):
            lines.append(
                row.format(
                    "  committed model, dev tweets: macro-F1",
                    cd["n"],
                    _f(cd["macro_f1"]),
                    f"F1 {_f(cd['f1'])}",
                )
            )
    intents = report.get("intents")
    if isinstance(intents, Mapping):
        head("3. Intents, dev split (committed model via classify, settings threshold)")
        b = intents["banking77_terminate_account"]
        for key, label in (
            ("all_intents", "BANKING77 terminate_account F1 (all 77 intents)"),
            ("training_dev_rows", "  same, make-train dev rows only"),
        ):
            s = b[key]
            lines.append(
                row.format(
                    label, s["n"], _f(s["f1"]), f"P {_f(s['precision'])} R {_f(s['recall'])}"
                )
            )
        for key, label in (
            ("nlupp_cancel_churn", "NLU++ banking cancel → churn F1"),
            ("nlupp_more_higher_after_upsell", "NLU++ more_higher_after → upsell F1"),
        ):
            s = intents[key]
            lines.append(
                row.format(
                    label, s["n"], _f(s["f1"]), f"P {_f(s['precision'])} R {_f(s['recall'])}"
                )
            )
    pn = report.get("parsinlu")
    if isinstance(pn, Mapping):
        head("4. ParsiNLU sentiment dev, overall aspect (committed model via classify)")
        for key, label in (("all", "all"), ("unseen_in_training", "unseen in training only")):
            s = pn[key]
            lines.append(
                row.format(f"{label}: binary macro-F1", s["n_binary"], _f(s["binary_macro_f1"]), "")
            )
            lines.append(
                row.format(
                    f"{label}: 3-way macro-F1",
                    s["n"],
                    _f(s["macro_f1_3way"]),
                    f"gold {s['gold_counts']}",
                )
            )
    own = report.get("own")
    if isinstance(own, Mapping):
        head("5. Own labelled sets, dev split (committed model via classify)")
        lines.extend(_own_rows(own, row))
    challenge = report.get("challenge")
    if isinstance(challenge, Mapping):
        head("6. Challenge sets: other writers, never trained or tuned on (via classify)")
        lines.extend(_own_rows(challenge, row))
    blind = report.get("blind")
    if isinstance(blind, Mapping):
        head("7. Blind sets: written from the label guide only, never trained on (via classify)")
        lines.extend(_own_rows(blind, row))
    for name, title in (
        ("conversations", "8. Labelled conversations, dev split: decision per conversation"),
        ("conversations_blind", "9. Labelled conversations, blind split (written last, used once)"),
    ):
        if isinstance(report.get(name), Mapping):
            lines.extend(conversation_rows(title, report[name]))
    targets = report.get("targets", [])
    if targets:
        lines.extend(
            [
                "",
                "Targets",
                "{:<34} {:<26} {:>7} {:>7}  {}".format(
                    "target", "measured on", "min", "value", "result"
                ),
                "-" * 92,
            ]
        )
        for t in targets:
            result = "not measured" if t["pass"] is None else ("PASS" if t["pass"] else "FAIL")
            lines.append(
                "{:<34} {:<26} {:>7} {:>7}  {}{}".format(
                    t["target"],
                    t["measured_on"],
                    _f(t["minimum"], 2),
                    _f(t["value"]),
                    result,
                    "" if t["primary"] else "  (secondary)",
                )
            )
    return "\n".join(lines)


def _machine(load_before: tuple[float, float, float]) -> dict[str, Any]:
    import torch

    return {**machine_facts(load_before), "torch_threads": torch.get_num_threads()}


def finetune_options() -> FinetuneOptions:
    """The fine-tuning options the committed model was trained with (from its metadata)."""
    recorded = HeadBundle.load(weights_path()).meta.get("finetune")
    return FinetuneOptions(**recorded) if isinstance(recorded, dict) else FinetuneOptions()


def _model_info(analyzer: Analyzer) -> dict[str, Any]:
    path = weights_path()
    bundle = HeadBundle.load(path)
    return {
        "version": bundle.version,
        "trained_at": bundle.meta.get("trained_at"),
        "embedder": bundle.embedder,
        "weights": str(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path),
        "weights_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "thresholds": {task: threshold(analyzer, task) for task in BINARY_TASKS},
    }


SECTIONS = (
    "deepsentipers",
    "complaints",
    "intents",
    "parsinlu",
    "own",
    "challenge",
    "blind",
    "conversations",
    "conversations_blind",
)


def evaluate_conversation_split(analyzer: Analyzer, split: str, cache: Path) -> dict[str, Any]:
    """Section 8: the labelled conversations of one split through the product's decision."""
    folder = CONVERSATIONS_BLIND_DIR if split == "blind" else CONVERSATIONS_DIR
    conversations = list(load_conversations(folder, split=split))
    if not conversations:
        return {"skipped": f"no {split} conversations in {folder}"}
    readings = read_all(analyzer, conversations, cache=cache, weights_dir=weights_path().parent)
    return evaluate_conversations(conversations, analyzer, readings)


def evaluate(
    data: Path | None, cache: Path, folds: int = 5, sections: Iterable[str] | None = None
) -> dict[str, Any]:
    wanted = set(sections or SECTIONS)
    started = time.time()
    load_before = os.getloadavg()
    analyzer = committed_analyzer()
    report: dict[str, Any] = {
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "model": _model_info(analyzer),
    }
    seconds: dict[str, float] = {}

    def timed(name: str, fn: Callable[[], Any]) -> None:
        t = time.time()
        print(f"evaluating {name} ...", flush=True)
        report[name] = fn()
        seconds[name] = round(time.time() - t, 1)

    if "own" in wanted:
        timed(
            "own",
            lambda: evaluate_own([ex for ex in own_examples() if ex.split == "dev"], analyzer),
        )
    if "challenge" in wanted:
        timed("challenge", lambda: evaluate_own(list(own_examples(CHALLENGE_DIR)), analyzer))
    if "blind" in wanted:
        timed("blind", lambda: evaluate_own(list(own_examples(BLIND_DIR)), analyzer))
    if "conversations" in wanted:
        timed("conversations", lambda: evaluate_conversation_split(analyzer, "dev", cache))
    if "conversations_blind" in wanted:
        timed("conversations_blind", lambda: evaluate_conversation_split(analyzer, "blind", cache))
    if data is not None:
        if "deepsentipers" in wanted:
            timed("deepsentipers", lambda: evaluate_deepsentipers(data, analyzer, cache))
        if "intents" in wanted:
            timed("intents", lambda: evaluate_intents(data, analyzer))
        if "parsinlu" in wanted:
            timed("parsinlu", lambda: evaluate_parsinlu(data, analyzer))
        if "complaints" in wanted:
            timed("complaints_committed_dev", lambda: evaluate_complaints_committed(data, analyzer))
            timed(
                "complaints_cv",
                lambda: evaluate_complaints_cv(
                    data, finetune_options(), folds, threshold(analyzer, "complaint")
                ),
            )
    else:
        report["skipped"] = "public datasets (no --data given)"
    report["published_baselines"] = PUBLISHED
    report["targets"] = check_targets(report)
    report["seconds"] = seconds
    report["wall_seconds"] = round(time.time() - started, 1)
    report["machine"] = _machine(load_before)
    return report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data",
        type=Path,
        help="folder of public datasets (../shared/data); "
        "without it only the own labelled sets are scored",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--cache", type=Path, default=Path("var/cache"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--only",
        action="append",
        choices=SECTIONS,
        help="run only these parts (repeatable); the default runs all",
    )
    args = parser.parse_args(argv)
    report = evaluate(args.data, args.cache, args.folds, args.only)
    print(format_table(report))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(args.out)
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()

"""Training rows from the public datasets and the project's own labelled sets.

Every loader yields `Example`s with the labels it knows and None for the ones it does not, so each
head trains only on rows that say something about its task.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.labels import COMPLAINT_CATEGORIES, INSIGHT_KINDS, SENTIMENTS, InsightKind

OWN_DIR = Path(__file__).resolve().parent.parent / "labelled"
# written later by other writers, for evaluation only: never trained or tuned on
CHALLENGE_DIR = OWN_DIR / "challenge"
# written blind (the writer read only the label guide) after the challenge sets had been used to
# choose recipes; no choice of the shipped model has seen them
BLIND_DIR = OWN_DIR / "blind"
DEV_SHARE = 0.2


@dataclass
class Example:
    text: str
    lang: str
    source: str
    split: str
    # task -> 0/1 for binary tasks; None = this source says nothing about the task
    binary: dict[str, int] = field(default_factory=dict)
    sentiment: str | None = None
    category: str | None = None
    speaker: str = "customer"
    hard_negative: bool = False


def stable_split(key: str, dev_share: float = DEV_SHARE) -> str:
    """Deterministic train/dev assignment from a row's id, identical on every machine."""
    bucket = int(hashlib.sha1(key.encode("utf-8")).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "dev" if bucket < dev_share else "train"


def own_examples(folder: Path = OWN_DIR) -> Iterator[Example]:
    for path in sorted(folder.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            labels = set(row["labels"])
            category = row.get("category") if InsightKind.COMPLAINT in labels else None
            yield Example(
                text=row["text"],
                lang=row["lang"],
                source=f"own_{row['lang']}",
                split=row.get("split") or stable_split(row["id"]),
                binary={task: int(task in labels) for task in INSIGHT_KINDS},
                sentiment=row.get("sentiment"),
                category=category if category in COMPLAINT_CATEGORIES else None,
                speaker=row.get("speaker", "customer"),
                hard_negative=bool(row.get("hard_negative")),
            )


def review_examples(path: Path) -> Iterator[Example]:
    """Reviewer verdicts exported by `GET /v1/reviews/export` (JSONL), as extra training rows."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            labels = set(row.get("labels", []))
            yield Example(
                text=row["text"],
                lang=row.get("lang", ""),
                source="reviews",
                split="train",
                binary={task: int(task in labels) for task in row.get("tasks", INSIGHT_KINDS)},
                sentiment=row.get("sentiment"),
                category=row.get("category"),
            )


def deepsentipers(data: Path) -> Iterator[Example]:
    path = data / "fa_sentiment_deepsentipers" / "original.csv"
    with path.open(encoding="utf-8") as fh:
        for i, (text, label) in enumerate(csv.reader(fh)):
            value = int(label)
            yield Example(
                text=text,
                lang="fa",
                source="deepsentipers",
                split=stable_split(f"dsp-{i}-{text}"),
                sentiment=_sentiment_label(value),
            )


def _sentiment_label(value: int) -> str:
    return SENTIMENTS[(value > 0) - (value < 0) + 1]


def parsinlu_sentiment(data: Path) -> Iterator[Example]:
    """Review-level sentiment; reviews of the official dev files are left out so that `make eval`
    can score them as unseen."""
    folder = data / "fa_sentiment_parsinlu"
    held_out = {
        json.loads(line)["review"]
        for name in ("food_dev.jsonl", "movie_dev.jsonl")
        for line in (folder / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    for name in ("food.jsonl", "movie.jsonl"):
        for line in (folder / name).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            value = int(row["sentiment"])
            if value == 3 or row["review"] in held_out:  # "mixed" has no single label
                continue
            yield Example(
                text=row["review"],
                lang="fa",
                source="parsinlu",
                split=stable_split(f"pnlu-{row['review']}"),
                sentiment=_sentiment_label(value),
            )


def complaints(data: Path) -> Iterator[Example]:
    path = data / "en_complaints_preotiuc2019" / "train.csv"
    with path.open(encoding="utf-8") as fh:
        for tweet_id, text, label, _domain in csv.reader(fh):
            yield Example(
                text=text,
                lang="en",
                source="complaints",
                split=stable_split(f"cmp-{tweet_id}"),
                binary={InsightKind.COMPLAINT: int(label)},
            )


def banking77(data: Path, negatives: int = 2500, seed: int = 13) -> Iterator[Example]:
    path = data / "en_intent_banking77" / "train.csv"
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    positives = [r for r in rows if r["category"] == "terminate_account"]
    others = [r for r in rows if r["category"] != "terminate_account"]
    random.Random(seed).shuffle(others)
    for r in positives + others[:negatives]:
        yield Example(
            text=r["text"],
            lang="en",
            source="banking77",
            split=stable_split(f"b77-{r['text']}"),
            binary={InsightKind.CHURN_RISK: int(r["category"] == "terminate_account")},
        )


def _nlupp_rows(data: Path) -> Iterator[tuple[str, set[str]]]:
    for path in sorted((data / "en_intent_nlupp" / "banking").glob("fold*.json")):
        for row in json.loads(path.read_text(encoding="utf-8")):
            yield row["text"], set(row.get("intents", []))


def nlupp_banking(data: Path) -> Iterator[Example]:
    """NLU++ banking proxies, as `make eval` scores them: leaving the bank is churn; asking for
    more/higher is expansion intent."""
    for text, intents in _nlupp_rows(data):
        # the cancel intent also covers freezing a card, which is not leaving
        leaving = "cancel_close_leave_freeze" in intents and "freeze" not in text.lower()
        yield Example(
            text=text,
            lang="en",
            source="nlupp",
            split=stable_split(f"nlupp-{text}"),
            binary={
                InsightKind.CHURN_RISK: int(leaving),
                InsightKind.UPSELL: int("more_higher_after" in intents),
            },
        )


# NLU++ objects whose cancelling is routine business, not leaving: hard negatives for churn
ROUTINE_CANCEL_OBJECTS = {
    "direct_debit",
    "standing_order",
    "appointment",
    "card",
    "transfer_payment_deposit",
    "lost_stolen",
}


def nlupp_training(data: Path) -> Iterator[Example]:
    """NLU++ banking as training rows for churn only.

    The proxy labels of `nlupp_banking` (kept for `make eval`) are too loose to learn from: its
    cancel intent also covers stopping a direct debit or moving an appointment, and
    `more_higher_after` marks comparisons ("how much more did I spend") rather than buying
    intent. Here closing an account is churn, cancelling a routine object (or freezing anything)
    is a hard negative,
    other cancel rows ("close it") are left out, and upsell gets no label at all."""
    for text, intents in _nlupp_rows(data):
        if "cancel_close_leave_freeze" not in intents:
            churn = 0
        elif intents & ROUTINE_CANCEL_OBJECTS or "freeze" in text.lower():
            churn = 0
        elif "account" in intents:
            churn = 1
        else:
            continue
        yield Example(
            text=text,
            lang="en",
            source="nlupp",
            split=stable_split(f"nlupp-{text}"),
            binary={InsightKind.CHURN_RISK: churn},
        )


def clinc_out_of_scope(data: Path, per_intent: int = 4, seed: int = 7) -> Iterator[Example]:
    """Assistant chatter: negatives for every insight (cancel/limit intents left out on purpose)."""
    full = json.loads((data / "en_intent_clinc150" / "data_full.json").read_text(encoding="utf-8"))
    skip = ("cancel", "limit", "bill", "card", "account", "report", "order", "freeze")
    rows = [(t, i) for t, i in full["train"] if not any(s in i for s in skip)]
    rows += [(t, "oos") for t, _ in full["oos_train"]]
    rng = random.Random(seed)
    by_intent: dict[str, list[str]] = {}
    for text, intent in rows:
        by_intent.setdefault(intent, []).append(text)
    for intent, texts in sorted(by_intent.items()):
        chosen = texts if intent == "oos" else rng.sample(texts, min(per_intent, len(texts)))
        for text in chosen:
            yield Example(
                text=text,
                lang="en",
                source="clinc",
                split=stable_split(f"clinc-{text}"),
                binary={task: 0 for task in INSIGHT_KINDS},
            )


def all_examples(data: Path | None, extra: list[Path] | None = None) -> list[Example]:
    rows = list(own_examples())
    if data is not None:
        for loader in (
            deepsentipers,
            parsinlu_sentiment,
            complaints,
            banking77,
            nlupp_training,
            clinc_out_of_scope,
        ):
            rows.extend(loader(data))
    for path in extra or []:
        rows.extend(review_examples(path))
    return rows

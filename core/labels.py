"""The label vocabulary, defined once: what an insight can be, and the words around it.

Every layer reads these (the detector heads, the decision model, routing rules, the API's
schemas and query parameters, the review desk, training); adding a kind is one line here, a
head trained for it, and a routing default in `routing/rules.yaml`. No torch, no project
imports: anything may import this module.

The member order is meaningful: heads store their outputs in it, and priorities run from the
most to the least urgent.
"""

from __future__ import annotations

from enum import StrEnum


class InsightKind(StrEnum):
    """What a customer said that someone should act on."""

    COMPLAINT = "complaint"
    # "you promised X at sale, it doesn't do X"
    UNMET_EXPECTATION = "unmet_expectation"
    UPSELL = "upsell"
    CHURN_RISK = "churn_risk"


class ComplaintCategory(StrEnum):
    BILLING = "billing"
    OUTAGE_TECHNICAL = "outage_technical"
    DELIVERY = "delivery"
    STAFF_SERVICE = "staff_service"
    PRODUCT_QUALITY = "product_quality"
    OTHER = "other"


class Sentiment(StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


class Priority(StrEnum):
    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


# the names in order, typed as plain strings: what dicts are keyed by and rows store
INSIGHT_KINDS: tuple[str, ...] = tuple(InsightKind)
COMPLAINT_CATEGORIES: tuple[str, ...] = tuple(ComplaintCategory)
SENTIMENTS: tuple[str, ...] = tuple(Sentiment)
# from the most to the least urgent
PRIORITIES: tuple[str, ...] = tuple(Priority)


class Verdict(StrEnum):
    """A reviewer's verdict on an insight."""

    CONFIRM = "confirm"
    REJECT = "reject"
    # the insight is real but something about it is wrong (its kind, category or sentiment)
    CORRECT = "correct"


# what a correction may set the kind to: a kind, or "none" (the sentence is none of them)
NO_KIND = "none"
REVIEW_KINDS: tuple[str, ...] = (*INSIGHT_KINDS, NO_KIND)
VERDICTS: tuple[str, ...] = tuple(Verdict)

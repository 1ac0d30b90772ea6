"""Reviews (v1): a person's verdict on an insight, and what it did to the queues."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.labels import ComplaintCategory, InsightKind, Sentiment, Verdict

# a kind, or "none" (core.labels.NO_KIND): the sentence is none of the insight kinds
ReviewKind = InsightKind | Literal["none"]


class ReviewCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"verdict": "confirm"},
                {"verdict": "reject", "note": "a greeting, not a churn signal"},
                {
                    "verdict": "correct",
                    "corrected_kind": InsightKind.COMPLAINT,
                    "corrected_category": "billing",
                    "corrected_sentiment": "negative",
                    "note": "charged twice: a billing complaint",
                },
            ]
        },
    )

    verdict: Verdict = Field(
        description="confirm: the insight is right; reject: it is not an insight of its kind; "
        "correct: set the kind, the complaint category and/or the sentiment",
        examples=["correct"],
    )
    corrected_kind: ReviewKind | None = Field(
        default=None,
        description='only with verdict correct; "none" = none of the insight kinds',
        examples=[InsightKind.CHURN_RISK],
    )
    corrected_category: ComplaintCategory | None = Field(
        default=None,
        description="only with verdict correct, for insights that are complaints after the review",
        examples=["billing"],
    )
    corrected_sentiment: Sentiment | None = Field(
        default=None, description="only with verdict correct", examples=["negative"]
    )
    note: str | None = Field(default=None, max_length=5000, examples=["clear cancel threat"])


class ReviewPublic(BaseModel):
    id: int
    insight_id: int
    verdict: str = Field(examples=["correct"])
    reviewer: str = Field(description="the API key's name", examples=["maryam-cs"])
    corrected_kind: str | None = Field(default=None, examples=[InsightKind.CHURN_RISK])
    corrected_category: str | None = Field(default=None, examples=[None])
    corrected_sentiment: str | None = Field(default=None, examples=["negative"])
    note: str | None = None
    created_at: str = Field(examples=["2025-03-14T13:20:05.120000+00:00"])


class ReviewBrief(BaseModel):
    """The latest review of an insight, as queue items show it."""

    verdict: str = Field(examples=["reject"])
    reviewer: str
    corrected_kind: str | None = None
    created_at: str


class ReviewResult(BaseModel):
    review: ReviewPublic
    effective_kind: str | None = Field(
        description="the insight's kind after this review; null = none of the insight kinds",
        examples=[InsightKind.CHURN_RISK],
    )
    queue_items: list[int] = Field(
        description="items the insight sits in after the review, rerouted ones included",
        examples=[[12, 15]],
    )
    auto_dismissed: list[int] = Field(
        description="items dismissed because no insight holds them open any more",
        examples=[[12]],
    )
    rerouted_to: list[int] = Field(
        description="items a kind correction routed the insight to", examples=[[15]]
    )


class InsightReviews(BaseModel):
    insight_id: int
    kind: str = Field(description="the kind the detector gave", examples=[InsightKind.COMPLAINT])
    effective_kind: str | None = Field(
        description="the kind after the latest review", examples=[InsightKind.CHURN_RISK]
    )
    reviews: list[ReviewPublic] = Field(description="oldest first; the last one counts")

"""Conversations in the public JSON (v1): analyzed, stored, their status. Fields may be added;
none is renamed."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from api.schemas.errors import ErrorInfo
from core.labels import InsightKind


class SentimentPublic(BaseModel):
    label: str = Field(examples=["negative"])
    score: float
    polarity: float = 0.0


class TurnPublic(BaseModel):
    index: int
    speaker: str = Field(examples=["customer"])
    speaker_label: str = ""
    start: float | None = None
    end: float | None = None
    sent_at: str | None = None
    text: str
    language: str
    confidence: float | None = None
    sentiment: SentimentPublic


class SpanPublic(BaseModel):
    start: int
    end: int


class InsightPublic(BaseModel):
    id: int | None = Field(
        default=None,
        description="the stored insight's id, for reviews (`POST /v1/insights/{id}/reviews`); "
        "null in `hamsu analyze` output, which stores nothing",
    )
    kind: str = Field(examples=[InsightKind.UNMET_EXPECTATION])
    score: float
    turn: int
    speaker: str
    quote: str = Field(
        examples=["the sales rep promised us a Slack integration, but it doesn't exist"]
    )
    start: float | None = None
    detector: str = Field(examples=["hamsu.unmet_expectation.v1"])
    language: str = ""
    span: SpanPublic
    threshold: float = 0.5
    category: str | None = None
    category_score: float | None = None
    explanation: dict[str, Any] = Field(default_factory=dict)
    evidence_score: float | None = Field(
        default=None,
        description="calibrated probability that the quoted turn, read with the turn before it, "
        "carries the kind; `score` is the conversation-level decision",
    )
    transcript_confidence: float | None = Field(
        default=None, description="the recogniser's confidence in the quoted turn (calls)"
    )
    needs_listening: bool = Field(
        default=False,
        description="the evidence comes from a turn the recogniser was unsure of: the insight is "
        "held (no queue item) until a person who listened confirms it with a review",
    )


class RoutePublic(BaseModel):
    queue: str = Field(examples=["cs"])
    priority: str = Field(examples=["high"])
    insights: list[int]
    rules: list[str] = Field(default_factory=list)
    queue_items: list[int] = Field(default_factory=list)


class SourcePublic(BaseModel):
    filename: str
    sha256: str


class AnalyzedConversationPublic(BaseModel):
    """A conversation analyzed and routed, as `hamsu analyze` prints it (nothing stored: no id,
    no queue items); the service's `ConversationPublic` adds what storing it gives."""

    id: str | None = Field(default=None, description="null from `hamsu analyze`")
    status: str = Field(examples=["routed"])
    channel: str = Field(examples=["call"])
    language: str = Field(examples=["fa"])
    duration_s: float | None = None
    account: str | None = None
    source: SourcePublic
    turns: list[TurnPublic] = Field(default_factory=list)
    insights: list[InsightPublic] = Field(default_factory=list)
    sentiment: dict[str, dict[str, SentimentPublic]] = Field(default_factory=dict)
    routes: list[RoutePublic] = Field(default_factory=list)
    meta: dict[str, Any] = Field(default_factory=dict)


class ConversationPublic(AnalyzedConversationPublic):
    id: str
    error: ErrorInfo | None = None
    created_at: str
    updated_at: str


class ConversationStatusPublic(BaseModel):
    id: str
    status: str = Field(examples=["analyzing"])
    channel: str
    filename: str
    sha256: str
    attempts: int
    error: ErrorInfo | None = None
    created_at: str
    updated_at: str
    needs_listening: bool = Field(
        default=False,
        description="an insight of it is held for listening and nobody has reviewed it yet",
    )


class ConversationAccepted(BaseModel):
    id: str = Field(examples=["3f9c2e7a1b8d4c6e9a0f5b2d7c1e4a68"])
    status: str = Field(examples=["queued"])
    duplicate: bool = Field(
        description="true when the same file was uploaded before", examples=[False]
    )
    url: str = Field(examples=["/v1/conversations/3f9c2e7a1b8d4c6e9a0f5b2d7c1e4a68"])

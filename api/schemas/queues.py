"""Queue items (v1): lists, one item with its history, and the workflow requests."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.schemas.conversations import InsightPublic
from api.schemas.reviews import ReviewBrief
from core.labels import InsightKind


class QueueItemInsightPublic(InsightPublic):
    id: int
    conversation_id: str
    review: ReviewBrief | None = Field(default=None, description="the latest review, if any")
    effective_kind: str | None = Field(
        default=None,
        description="the kind after the latest review (the detector's kind when unreviewed); "
        "null = rejected",
        examples=[InsightKind.CHURN_RISK],
    )


class QueueItemPublic(BaseModel):
    id: int
    queue: str = Field(examples=["cs"])
    kind: str = Field(examples=[InsightKind.CHURN_RISK])
    priority: str = Field(examples=["high"])
    status: str = Field(examples=["open"])
    assignee: str | None = Field(default=None, examples=["maryam-cs"])
    conversation_id: str
    conversation_ids: list[str]
    account: str | None = Field(default=None, examples=["Acme Mobile"])
    account_id: str | None = None
    channel: str = Field(examples=["chat"])
    language: str = Field(examples=["fa"])
    category: str | None = Field(default=None, examples=["outage_technical"])
    rule: str = Field(examples=["churn-to-cs"])
    top_score: float = Field(examples=[0.97])
    sla_hours: float | None = Field(default=None, examples=[8])
    due_at: str | None = Field(default=None, examples=["2025-03-14T21:12:00+00:00"])
    overdue: bool = Field(description="due_at has passed and the item is still open or claimed")
    created_at: str
    updated_at: str
    closed_at: str | None = Field(default=None, description="when it was resolved or dismissed")
    insights: list[QueueItemInsightPublic]


class QueueItemsPage(BaseModel):
    queue: str = Field(examples=["cs"])
    items: list[QueueItemPublic]
    next_cursor: str | None = Field(
        default=None,
        description="pass as `cursor` for the next page; null on the last page",
        examples=["eyJzIjoicHJpb3JpdHkiLCJrIjpbMCwiOTk5OSJdLCJpZCI6MTJ9"],
    )
    total: int = Field(description="items matching the filters, on all pages", examples=[42])


class QueueItemEventPublic(BaseModel):
    id: int
    at: str = Field(examples=["2025-03-14T13:20:05.120000+00:00"])
    actor: str = Field(
        description='the API key\'s name, or "hamsu" for automatic changes', examples=["maryam-cs"]
    )
    action: str = Field(
        description="created, attached, claimed, released, noted, resolved, dismissed, "
        "reviewed, auto_dismissed",
        examples=["resolved"],
    )
    note: str | None = Field(default=None, examples=["called back, credit applied"])
    data: dict[str, Any] = Field(default_factory=dict, examples=[{"outcome": "won"}])


class QueueItemNotePublic(BaseModel):
    id: int
    at: str
    author: str = Field(examples=["maryam-cs"])
    text: str = Field(examples=["customer prefers a call after 4 pm"])


class QueueItemDetail(QueueItemPublic):
    history: list[QueueItemEventPublic] = Field(description="oldest first")
    notes: list[QueueItemNotePublic] = Field(description="the history's notes, oldest first")


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ClaimRequest(_Body):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"force": False}]})

    force: bool = Field(
        default=False, description="admins only: take over an item claimed by someone else"
    )


class ReleaseRequest(_Body):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"note": "on leave until Monday"}]}
    )

    force: bool = Field(default=False, description="admins only: release someone else's claim")
    note: str | None = Field(default=None, max_length=5000)


class ResolveRequest(_Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"outcome": "won", "note": "signed for 17 lines"}]},
    )

    note: str | None = Field(default=None, max_length=5000, examples=["signed for 17 lines"])
    outcome: str | None = Field(
        default=None,
        max_length=100,
        description='free text, e.g. "won", "lost", "refunded", "retained"',
        examples=["won"],
    )


class DismissRequest(_Body):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"reason": "duplicate of a CRM case"}]}
    )

    reason: Text = Field(examples=["duplicate of a CRM case"])


class NoteRequest(_Body):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"text": "customer prefers a call after 4 pm"}]},
    )

    text: Text = Field(examples=["customer prefers a call after 4 pm"])

"""What webhook events carry (`routing.events.emit`), one pydantic model per shape: the receiver's
contract. Fields may be added; none is renamed."""

from __future__ import annotations

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from models.shapes import shape_of
from models.tables import Account, Insight, QueueItem, QueueItemInsight, Review, aware


class InsightPayload(BaseModel):
    id: int
    conversation_id: str
    kind: str
    score: float
    quote: str
    speaker: str
    start: float | None = Field(description="seconds into the call; null for text")
    category: str | None
    language: str


class AccountRef(BaseModel):
    id: str
    name: str


class QueueItemPayload(BaseModel):
    """`queue_item.created`."""

    id: int
    queue: str
    kind: str
    priority: str
    status: str
    assignee: str | None
    account: AccountRef | None
    conversation_id: str
    due_at: str | None
    insights: list[InsightPayload]


class Resolution(BaseModel):
    resolved_by: str
    resolved_at: str
    outcome: str | None
    note: str | None


class ResolvedItemPayload(QueueItemPayload):
    """`queue_item.resolved`: the item and how it was resolved."""

    resolution: Resolution


class ReviewPayload(BaseModel):
    verdict: str
    reviewer: str
    corrected_kind: str | None
    corrected_category: str | None
    corrected_sentiment: str | None
    note: str | None
    created_at: str


class InsightReviewedPayload(BaseModel):
    """`insight.reviewed`: the insight, the verdict, and every item holding it afterwards."""

    insight: InsightPayload
    review: ReviewPayload
    queue_items: list[int]


def insight_payload(insight: Insight) -> InsightPayload:
    return shape_of(InsightPayload, insight)


def item_payload(session: Session, item: QueueItem) -> QueueItemPayload:
    account = session.get(Account, item.account_id) if item.account_id else None
    insight_ids = select(QueueItemInsight.insight_id).where(QueueItemInsight.item_id == item.id)
    insights = session.exec(select(Insight).where(col(Insight.id).in_(insight_ids))).all()
    due_at = aware(item.due_at)
    return shape_of(
        QueueItemPayload,
        item,
        account=AccountRef(id=account.id, name=account.name) if account else None,
        due_at=due_at.isoformat() if due_at else None,
        insights=[insight_payload(i) for i in insights],
    )


def review_payload(review: Review) -> ReviewPayload:
    return shape_of(ReviewPayload, review, created_at=review.created_at.isoformat())

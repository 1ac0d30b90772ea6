"""Insights held for listening: evidence from a turn the recogniser was unsure of waits for a
person to listen to the call. A review settles it: confirming routes it as usual
(`routing.workflow.review_insight`), rejecting drops it."""

from __future__ import annotations

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from models.tables import Conversation, Insight, QueueItemInsight, Review


def awaiting_insights() -> SelectOfScalar[int | None]:
    """Ids of held insights that nobody has reviewed yet and that sit in no queue item."""
    return (
        select(col(Insight.id))
        .where(col(Insight.needs_listening))
        .where(~col(Insight.id).in_(select(Review.insight_id)))
        .where(~col(Insight.id).in_(select(QueueItemInsight.insight_id)))
    )


def awaiting_conversations() -> SelectOfScalar[str]:
    """Ids of conversations with at least one insight awaiting listening."""
    return select(Insight.conversation_id).where(col(Insight.id).in_(awaiting_insights()))


def to_listen(session: Session, *, limit: int) -> list[Conversation]:
    """The "to listen" list, oldest first: the longest wait is heard first."""
    return list(
        session.exec(
            select(Conversation)
            .where(col(Conversation.id).in_(awaiting_conversations()))
            .order_by(col(Conversation.created_at))
            .limit(limit)
        ).all()
    )


def is_awaiting(session: Session, *, insight_id: int) -> bool:
    return session.exec(awaiting_insights().where(Insight.id == insight_id)).first() is not None


def has_awaiting(session: Session, *, conversation_id: str) -> bool:
    query = awaiting_insights().where(Insight.conversation_id == conversation_id)
    return session.exec(query.limit(1)).first() is not None

"""Decisions to queue items in the database: open, attach within the dedupe window, emit events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlmodel import Session, col, select

from core.labels import PRIORITIES
from models.tables import (
    Account,
    Conversation,
    Insight,
    QueueItem,
    QueueItemEvent,
    QueueItemInsight,
    QueueItemStatus,
    aware,
    utcnow,
)
from routing.engine import NO_TIER, Context, Decision, RuleSet
from routing.events import emit
from routing.payloads import item_payload

SYSTEM_ACTOR = "hamsu"


def context_for(session: Session, conversation: Conversation) -> Context:
    account = session.get(Account, conversation.account_id) if conversation.account_id else None
    return Context(channel=conversation.channel, tier=account.tier if account else NO_TIER)


def _open_item(
    session: Session, conversation: Conversation, decision: Decision, window_hours: float
) -> QueueItem | None:
    query = select(QueueItem).where(
        QueueItem.queue == decision.queue,
        QueueItem.kind == decision.kind,
        col(QueueItem.status).in_(QueueItemStatus.ACTIVE),
        col(QueueItem.created_at) >= utcnow() - timedelta(hours=window_hours),
    )
    if conversation.account_id:
        query = query.where(QueueItem.account_id == conversation.account_id)
    else:  # no account known: an item never spans conversations
        query = query.where(QueueItem.conversation_id == conversation.id)
    return session.exec(query.order_by(col(QueueItem.created_at))).first()


def route_insights(
    session: Session,
    conversation: Conversation,
    insights: Sequence[Insight],
    rules: RuleSet,
    *,
    listened: bool = False,
) -> list[QueueItem]:
    """Decide and open the items of insights routed after the conversation was (a reviewed or
    corrected insight); the caller commits. Insights held for listening are routed only when
    `listened` (a person confirmed them)."""
    context = context_for(session, conversation)
    decided = [
        (insight, decision)
        for insight in insights
        if (decision := rules.decide(insight.model_dump(), context, listened=listened))
    ]
    return open_items(session, conversation, decided, window_hours=rules.dedupe_window_hours)


def open_items(
    session: Session,
    conversation: Conversation,
    decided: Sequence[tuple[Insight, Decision]],
    *,
    window_hours: float,
) -> list[QueueItem]:
    """Attach each decided insight to its open item or open one; the caller commits."""
    touched: dict[int, QueueItem] = {}
    created: list[QueueItem] = []
    for insight, decision in decided:
        item = _open_item(session, conversation, decision, window_hours)
        now = utcnow()
        if item is None:
            item = QueueItem(
                queue=decision.queue,
                kind=decision.kind,
                conversation_id=conversation.id,
                account_id=conversation.account_id,
                priority=decision.priority,
                rule=decision.rule,
                top_score=insight.score,
                category=insight.category,
                language=insight.language,
                channel=conversation.channel,
                sla_hours=decision.sla_hours,
                due_at=now + timedelta(hours=decision.sla_hours) if decision.sla_hours else None,
            )
            session.add(item)
            session.flush()
            session.add(
                QueueItemEvent(
                    item_id=item.id,  # type: ignore[arg-type]
                    actor=SYSTEM_ACTOR,
                    action="created",
                    data={"rule": decision.rule, "conversation_id": conversation.id},
                )
            )
            created.append(item)
        else:
            session.add(
                QueueItemEvent(
                    item_id=item.id,  # type: ignore[arg-type]
                    actor=SYSTEM_ACTOR,
                    action="attached",
                    data={"insight_id": insight.id, "conversation_id": conversation.id},
                )
            )
            if PRIORITIES.index(decision.priority) < PRIORITIES.index(item.priority):
                item.priority = decision.priority
                if decision.sla_hours:  # a more urgent insight brings the due time forward
                    due = now + timedelta(hours=decision.sla_hours)
                    current = aware(item.due_at)
                    item.due_at = min(due, current) if current else due
            item.top_score = max(item.top_score, insight.score)
            item.updated_at = now
            session.add(item)
        session.add(QueueItemInsight(item_id=item.id, insight_id=insight.id))  # type: ignore[arg-type]
        touched[item.id] = item  # type: ignore[index]
    session.flush()
    for item in created:
        emit(session, "queue_item.created", item_payload(session, item))
    return list(touched.values())

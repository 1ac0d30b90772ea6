"""Stored rows to the public v1 JSON."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from models.tables import (
    Account,
    Conversation,
    ConversationStatus,
    Insight,
    QueueItem,
    QueueItemInsight,
    QueueItemStatus,
    Turn,
    utcnow,
)
from routing.queue import aware


def insight_view(row: Insight) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "score": row.score,
        "turn": row.turn,
        "speaker": row.speaker,
        "quote": row.quote,
        "start": row.start,
        "detector": row.detector,
        "language": row.language,
        "span": {"start": row.span_start, "end": row.span_end},
        "threshold": row.threshold,
        "category": row.category,
        "category_score": row.category_score,
        "explanation": row.explanation,
        "evidence_score": row.evidence_score,
        "transcript_confidence": row.transcript_confidence,
        "needs_listening": row.needs_listening,
    }


def account_name(session: Session, account_id: str | None) -> str | None:
    if not account_id:
        return None
    account = session.get(Account, account_id)
    return account.name if account else None


def status_view(conv: Conversation, *, needs_listening: bool = False) -> dict[str, Any]:
    return {
        "id": conv.id,
        "status": conv.status,
        "channel": conv.channel,
        "filename": conv.filename,
        "sha256": conv.sha256,
        "attempts": conv.attempts,
        "error": {"code": conv.error_code, "message": conv.error_message or ""}
        if conv.status == ConversationStatus.FAILED
        else None,
        "created_at": conv.created_at.isoformat(),
        "updated_at": conv.updated_at.isoformat(),
        "needs_listening": needs_listening,
    }


def conversation_view(session: Session, conv: Conversation) -> dict[str, Any]:
    turns = session.exec(
        select(Turn).where(Turn.conversation_id == conv.id).order_by(col(Turn.index))
    ).all()
    insights = session.exec(
        select(Insight).where(Insight.conversation_id == conv.id).order_by(col(Insight.index))
    ).all()
    return {
        "id": conv.id,
        "status": conv.status,
        "channel": conv.channel,
        "language": conv.language
        or ("" if conv.requested_language == "auto" else conv.requested_language),
        "duration_s": conv.duration_s,
        "account": account_name(session, conv.account_id),
        "source": {"filename": conv.filename, "sha256": conv.sha256},
        "turns": [
            {
                "index": t.index,
                "speaker": t.speaker,
                "speaker_label": t.speaker_label,
                "start": t.start,
                "end": t.end,
                "sent_at": t.sent_at.isoformat() if t.sent_at else None,
                "text": t.text,
                "language": t.language,
                "confidence": t.confidence,
                "sentiment": {
                    "label": t.sentiment_label,
                    "score": t.sentiment_score,
                    "polarity": t.sentiment_polarity,
                },
            }
            for t in turns
        ],
        "insights": [insight_view(i) for i in insights],
        "sentiment": conv.details.get("sentiment", {}),
        "routes": conv.details.get("routes", []),
        "error": {"code": conv.error_code, "message": conv.error_message or ""}
        if conv.status == ConversationStatus.FAILED
        else None,
        "created_at": conv.created_at.isoformat(),
        "updated_at": conv.updated_at.isoformat(),
        "meta": conv.details.get("meta", {}),
    }


def queue_item_view(session: Session, item: QueueItem) -> dict[str, Any]:
    from routing.workflow import effective_kind, latest_reviews, review_brief

    insight_ids = select(QueueItemInsight.insight_id).where(QueueItemInsight.item_id == item.id)
    insights = session.exec(
        select(Insight).where(col(Insight.id).in_(insight_ids)).order_by(col(Insight.score).desc())
    ).all()
    reviews = latest_reviews(session, (i.id for i in insights if i.id is not None))
    due_at = aware(item.due_at)
    closed_at = aware(item.closed_at)
    return {
        "id": item.id,
        "queue": item.queue,
        "kind": item.kind,
        "priority": item.priority,
        "status": item.status,
        "assignee": item.assignee,
        "conversation_id": item.conversation_id,
        "conversation_ids": sorted({i.conversation_id for i in insights}),
        "account": account_name(session, item.account_id),
        "account_id": item.account_id,
        "channel": item.channel,
        "language": item.language,
        "category": item.category,
        "rule": item.rule,
        "top_score": item.top_score,
        "sla_hours": item.sla_hours,
        "due_at": due_at.isoformat() if due_at else None,
        "overdue": bool(due_at and item.status in QueueItemStatus.ACTIVE and due_at < utcnow()),
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
        "closed_at": closed_at.isoformat() if closed_at else None,
        "insights": [
            {
                "id": i.id,
                "conversation_id": i.conversation_id,
                **insight_view(i),
                "review": review_brief(reviews.get(i.id)),  # type: ignore[arg-type]
                "effective_kind": effective_kind(i, reviews.get(i.id)),  # type: ignore[arg-type]
            }
            for i in insights
        ],
    }

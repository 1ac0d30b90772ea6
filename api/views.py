"""Stored rows to the public v1 JSON."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlmodel import Session, col, select

from api.schemas.conversations import (
    AnalyzedConversationPublic,
    ConversationPublic,
    ConversationStatusPublic,
    InsightPublic,
    RoutePublic,
    SentimentPublic,
    SourcePublic,
    SpanPublic,
    TurnPublic,
)
from api.schemas.errors import ErrorInfo
from api.schemas.queues import (
    QueueItemDetail,
    QueueItemEventPublic,
    QueueItemInsightPublic,
    QueueItemNotePublic,
    QueueItemPublic,
    QueueItemsPage,
)
from api.schemas.reviews import ReviewBrief, ReviewPublic
from models.shapes import shape_of
from models.tables import (
    Account,
    Conversation,
    ConversationStatus,
    Insight,
    QueueItem,
    QueueItemInsight,
    Review,
    Turn,
    aware,
)
from nlp.analyzer import Insight as DetectedInsight
from pipeline.analyze import Result, route_json, sentiment_json
from routing.overdue import is_overdue
from routing.queues_service import ItemsPage
from routing.workflow import effective_kind, history, latest_reviews
from transcribe.types import jsonable_meta


def insight_public(source: Insight | DetectedInsight) -> InsightPublic:
    """An insight as the v1 JSON shows it: a stored row (with its id), or one `hamsu analyze`
    found and stored nowhere (id null)."""
    if isinstance(source, Insight):
        span, insight_id = SpanPublic(start=source.span_start, end=source.span_end), source.id
    else:
        span, insight_id = SpanPublic(start=source.span[0], end=source.span[1]), None
    return shape_of(InsightPublic, source, id=insight_id, span=span)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def account_name(session: Session, account_id: str | None) -> str | None:
    if not account_id:
        return None
    account = session.get(Account, account_id)
    return account.name if account else None


def _error(conv: Conversation) -> ErrorInfo | None:
    if conv.status != ConversationStatus.FAILED:
        return None
    return ErrorInfo(code=conv.error_code or "", message=conv.error_message or "")


def status_view(conv: Conversation, *, needs_listening: bool = False) -> ConversationStatusPublic:
    return shape_of(
        ConversationStatusPublic,
        conv,
        error=_error(conv),
        created_at=conv.created_at.isoformat(),
        updated_at=conv.updated_at.isoformat(),
        needs_listening=needs_listening,
    )


def conversation_view(session: Session, conv: Conversation) -> ConversationPublic:
    """A stored conversation; routes, sentiment and channel facts come from its details."""
    turns = session.exec(
        select(Turn).where(Turn.conversation_id == conv.id).order_by(col(Turn.index))
    ).all()
    insights = session.exec(
        select(Insight).where(Insight.conversation_id == conv.id).order_by(col(Insight.index))
    ).all()
    return ConversationPublic(
        id=conv.id,
        status=conv.status,
        channel=conv.channel,
        language=conv.language
        or ("" if conv.requested_language == "auto" else conv.requested_language),
        duration_s=conv.duration_s,
        account=account_name(session, conv.account_id),
        source=SourcePublic(filename=conv.filename, sha256=conv.sha256),
        turns=[
            shape_of(
                TurnPublic,
                t,
                sent_at=_iso(t.sent_at),
                sentiment=SentimentPublic(
                    label=t.sentiment_label, score=t.sentiment_score, polarity=t.sentiment_polarity
                ),
            )
            for t in turns
        ],
        insights=[insight_public(i) for i in insights],
        sentiment=conv.details.get("sentiment", {}),
        routes=conv.details.get("routes", []),
        error=_error(conv),
        created_at=conv.created_at.isoformat(),
        updated_at=conv.updated_at.isoformat(),
        meta=conv.details.get("meta", {}),
    )


def analyzed_view(
    result: Result, *, filename: str, sha256: str, account: str | None
) -> AnalyzedConversationPublic:
    """What `hamsu analyze` prints for one file: the conversation as the service would show it
    once routed, with nothing stored (no id, no queue items)."""
    transcript, analysis = result.transcript, result.analysis
    return AnalyzedConversationPublic(
        id=None,
        status=ConversationStatus.ROUTED,
        channel=transcript.channel,
        language=transcript.language,
        duration_s=transcript.duration_s,
        account=account,
        source=SourcePublic(filename=filename, sha256=sha256),
        turns=[
            shape_of(
                TurnPublic,
                turn,
                index=i,
                sent_at=_iso(turn.sent_at),
                language=analysis.turn_languages[i],
                sentiment=SentimentPublic.model_validate(asdict(analysis.turn_sentiments[i])),
            )
            for i, turn in enumerate(transcript.turns)
        ],
        insights=[insight_public(i) for i in analysis.insights],
        sentiment=sentiment_json(analysis),
        routes=[RoutePublic.model_validate(route_json(route)) for route in result.routes],
        meta=jsonable_meta(transcript.meta),
    )


def review_public(review: Review) -> ReviewPublic:
    return shape_of(ReviewPublic, review, created_at=review.created_at.isoformat())


def review_brief(review: Review | None) -> ReviewBrief | None:
    """The latest review as queue items and the conversation page show it next to an insight."""
    if review is None:
        return None
    return shape_of(ReviewBrief, review, created_at=review.created_at.isoformat())


def queue_item_view(session: Session, item: QueueItem) -> QueueItemPublic:
    insight_ids = select(QueueItemInsight.insight_id).where(QueueItemInsight.item_id == item.id)
    insights = session.exec(
        select(Insight).where(col(Insight.id).in_(insight_ids)).order_by(col(Insight.score).desc())
    ).all()
    reviews = latest_reviews(session, (i.id for i in insights if i.id is not None))
    due_at = aware(item.due_at)
    closed_at = aware(item.closed_at)
    return shape_of(
        QueueItemPublic,
        item,
        conversation_ids=sorted({i.conversation_id for i in insights}),
        account=account_name(session, item.account_id),
        due_at=due_at.isoformat() if due_at else None,
        overdue=is_overdue(item),
        created_at=item.created_at.isoformat(),
        updated_at=item.updated_at.isoformat(),
        closed_at=closed_at.isoformat() if closed_at else None,
        insights=[
            QueueItemInsightPublic(
                **insight_public(i).model_dump(exclude={"id"}),
                id=i.id,  # type: ignore[arg-type]
                conversation_id=i.conversation_id,
                review=review_brief(reviews.get(i.id)),  # type: ignore[arg-type]
                effective_kind=effective_kind(i, reviews.get(i.id)),  # type: ignore[arg-type]
            )
            for i in insights
        ],
    )


def queue_item_detail(session: Session, item: QueueItem) -> QueueItemDetail:
    """One item with its history and notes (a note is an event of action `noted`)."""
    events = history(session, item.id)  # type: ignore[arg-type]
    return QueueItemDetail(
        **queue_item_view(session, item).model_dump(),
        history=[shape_of(QueueItemEventPublic, e, at=e.at.isoformat()) for e in events],
        notes=[
            QueueItemNotePublic(
                id=e.id,  # type: ignore[arg-type]
                at=e.at.isoformat(),
                author=e.actor,
                text=e.note or "",
            )
            for e in events
            if e.action == "noted"
        ],
    )


def page_view(session: Session, page: ItemsPage) -> QueueItemsPage:
    """A page of items (the JSON list and the desk's inbox)."""
    return QueueItemsPage(
        queue=page.queue,
        items=[queue_item_view(session, item) for item in page.items],
        next_cursor=page.next_cursor,
        total=page.total,
    )

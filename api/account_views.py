"""Accounts as the API and the review desk show them: the account, its timeline across channels,
its open items and the customer's sentiment trend. Open items are limited to the queues the
caller works, and insight quotes on the timeline to the conversations the caller may open."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from sqlmodel import Session, col, func, select

from api.auth import QUEUE_ACCESS
from api.schemas.queues import QueueItemPublic
from api.views import queue_item_view
from core.errors import ErrorCode, HamsuError
from models.tables import (
    Account,
    ApiKey,
    Conversation,
    Insight,
    QueueItem,
    QueueItemInsight,
    QueueItemStatus,
    Turn,
    aware,
)
from routing.queues_service import PRIORITY_ORDER

TOP_INSIGHTS = 3
# a change of mean customer polarity (range -2..2 between thirds) that counts as a direction
TREND_THRESHOLD = 0.15


def visible_queues(key: ApiKey) -> frozenset[str] | None:
    """The queues the caller works; None for admins (all of them)."""
    return None if key.role == "admin" else QUEUE_ACCESS.get(key.role, frozenset())


def account_public(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "external_id": account.external_id,
        "tier": account.tier,
        "domains": list(account.domains or []),
        "phones": list(account.phones or []),
        "created_at": aware(account.created_at).isoformat(),  # type: ignore[union-attr]
    }


def find_account(session: Session, ref: str) -> Account:
    account = session.get(Account, ref)
    if account is None:
        account = session.exec(select(Account).where(Account.external_id == ref)).first()
    if account is None:
        raise HamsuError(ErrorCode.NOT_FOUND, f"account {ref!r} not found").with_details(
            account_id=ref
        )
    return account


def account_detail(
    session: Session, *, ref: str, key: ApiKey, timeline_limit: int
) -> dict[str, Any]:
    """An account (`ref`: its id or external id) as `AccountDetail`: its timeline across
    channels (the latest `timeline_limit` conversations), its open items in the caller's queues,
    and the customer's sentiment trend."""
    account = find_account(session, ref)
    timeline = _timeline(session, key, account.id)
    total = len(timeline)
    timeline = timeline[-timeline_limit:]
    return {
        **account_public(account),
        "timeline": timeline,
        "timeline_total": total,
        "open_items": _open_items(session, key, account.id),
        "sentiment_trend": sentiment_trend(timeline),
    }


def _timeline(session: Session, key: ApiKey, account_id: str) -> list[dict[str, Any]]:
    conversations = session.exec(
        select(Conversation).where(Conversation.account_id == account_id)
    ).all()
    if not conversations:
        return []
    first_sent = dict(
        session.exec(  # type: ignore[arg-type]
            select(Turn.conversation_id, func.min(col(Turn.sent_at)))
            .join(Conversation, col(Conversation.id) == col(Turn.conversation_id))
            .where(Conversation.account_id == account_id)
            .group_by(col(Turn.conversation_id))
        ).all()
    )
    insights: dict[str, list[Insight]] = defaultdict(list)
    for insight in session.exec(
        select(Insight)
        .join(Conversation, col(Conversation.id) == col(Insight.conversation_id))
        .where(Conversation.account_id == account_id)
    ).all():
        insights[insight.conversation_id].append(insight)
    readable = _readable_conversations(session, key, account_id)
    entries = []
    for conv in conversations:
        created = aware(conv.created_at)
        sent = aware(first_sent.get(conv.id))
        occurred = sent or created
        assert created is not None and occurred is not None
        found = insights.get(conv.id, [])
        can_read = readable is None or conv.id in readable
        top = sorted(found, key=lambda i: (-i.score, i.index))[:TOP_INSIGHTS] if can_read else []
        entries.append(
            (
                occurred,
                created,
                {
                    "id": conv.id,
                    "channel": conv.channel,
                    "language": conv.language
                    or ("" if conv.requested_language == "auto" else conv.requested_language),
                    "status": conv.status,
                    "filename": conv.filename,
                    "created_at": created.isoformat(),
                    "sent_at": sent.isoformat() if sent else None,
                    "occurred_at": occurred.isoformat(),
                    "duration_s": conv.duration_s,
                    "caller_phone": conv.caller_phone,
                    "customer_sentiment": _customer_sentiment(conv),
                    "insight_counts": dict(sorted(Counter(i.kind for i in found).items())),
                    "top_insights": [
                        {
                            "id": i.id,
                            "kind": i.kind,
                            "score": i.score,
                            "quote": i.quote,
                            "turn": i.turn,
                            "speaker": i.speaker,
                            "category": i.category,
                        }
                        for i in top
                    ],
                    "readable": can_read,
                    "url": f"/v1/conversations/{conv.id}",
                },
            )
        )
    entries.sort(key=lambda e: (e[0], e[1], e[2]["id"]))
    return [entry for _, _, entry in entries]


def _readable_conversations(session: Session, key: ApiKey, account_id: str) -> set[str] | None:
    """The account's conversations behind items in the caller's queues; None: all (admin)."""
    queues = visible_queues(key)
    if queues is None:
        return None
    if not queues:
        return set()
    rows = session.exec(
        select(Insight.conversation_id)
        .join(QueueItemInsight, col(QueueItemInsight.insight_id) == col(Insight.id))
        .join(QueueItem, col(QueueItem.id) == col(QueueItemInsight.item_id))
        .join(Conversation, col(Conversation.id) == col(Insight.conversation_id))
        .where(Conversation.account_id == account_id)
        .where(col(QueueItem.queue).in_(queues))
        .distinct()
    ).all()
    return set(rows)


def _customer_sentiment(conv: Conversation) -> dict[str, Any]:
    parts = ((conv.details or {}).get("sentiment") or {}).get("customer") or {}
    out: dict[str, Any] = {}
    for part in ("overall", "first", "last"):
        value = parts.get(part)
        if isinstance(value, dict) and "label" in value:
            out[part] = {
                "label": value["label"],
                "score": float(value.get("score", 0.0)),
                "polarity": float(value.get("polarity", 0.0)),
            }
        else:
            out[part] = None
    return out


def sentiment_trend(timeline: list[dict[str, Any]]) -> dict[str, Any]:
    """The customer's overall polarity per conversation, oldest first, and its direction: the
    mean of the last third against the first third."""
    points = [
        {
            "conversation_id": entry["id"],
            "at": entry["occurred_at"],
            "channel": entry["channel"],
            "polarity": overall["polarity"],
            "label": overall["label"],
        }
        for entry in timeline
        if (overall := entry["customer_sentiment"].get("overall"))
    ]
    trend: dict[str, Any] = {
        "direction": "stable",
        "first_third": None,
        "last_third": None,
        "change": None,
        "threshold": TREND_THRESHOLD,
        "points": points,
    }
    if not points:
        return trend
    k = max(1, len(points) // 3)
    first = sum(p["polarity"] for p in points[:k]) / k
    last = sum(p["polarity"] for p in points[-k:]) / k
    change = last - first
    trend.update(
        first_third=round(first, 4),
        last_third=round(last, 4),
        change=round(change, 4),
    )
    if len(points) >= 2 and abs(change) > TREND_THRESHOLD:
        trend["direction"] = "improving" if change > 0 else "worsening"
    return trend


def _open_items(session: Session, key: ApiKey, account_id: str) -> list[QueueItemPublic]:
    query = (
        select(QueueItem)
        .where(QueueItem.account_id == account_id)
        .where(col(QueueItem.status).in_(QueueItemStatus.ACTIVE))
    )
    queues = visible_queues(key)
    if queues is not None:
        query = query.where(col(QueueItem.queue).in_(queues))
    rows = session.exec(
        query.order_by(
            PRIORITY_ORDER,
            col(QueueItem.due_at).is_(None),
            col(QueueItem.due_at),
            col(QueueItem.created_at),
        )
    ).all()
    return [queue_item_view(session, item) for item in rows]

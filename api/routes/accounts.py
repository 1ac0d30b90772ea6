"""Accounts endpoints (/v1): who the customers are, and everything Hamsu heard from each of them.

Admins create and change accounts; admins, csm and sales read them. An account's open items are
limited to the queues the caller works, and insight quotes on its timeline to the conversations
the caller may open.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import case, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from api.auth import QUEUE_ACCESS
from api.deps import AdminKey, SessionDep, require_roles
from api.schemas import ErrorBody
from api.schemas.accounts import (
    AccountCreate,
    AccountDetail,
    AccountPublic,
    AccountsPage,
    AccountUpdate,
)
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
)
from pipeline.accounts import check_claims
from routing.queue import aware

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

READER = Annotated[ApiKey, Depends(require_roles("csm", "sales"))]
TOP_INSIGHTS = 3
MAX_OFFSET = 10_000_000
# a change of mean customer polarity (range -2..2 between thirds) that counts as a direction
TREND_THRESHOLD = 0.15
_PRIORITY_ORDER = case({"high": 0, "normal": 1, "low": 2}, value=QueueItem.priority, else_=3)


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}


AccountId = Annotated[
    str, Path(description="the account's id or its external (CRM) id", examples=["CRM-10442"])
]


def _visible_queues(key: ApiKey) -> frozenset[str] | None:
    """The queues the caller works; None for admins (all of them)."""
    return None if key.role == "admin" else QUEUE_ACCESS.get(key.role, frozenset())


def _account_view(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "external_id": account.external_id,
        "tier": account.tier,
        "domains": list(account.domains or []),
        "phones": list(account.phones or []),
        "created_at": aware(account.created_at).isoformat(),  # type: ignore[union-attr]
    }


def _get_account(session: Session, ref: str) -> Account:
    account = session.get(Account, ref)
    if account is None:
        account = session.exec(select(Account).where(Account.external_id == ref)).first()
    if account is None:
        raise HamsuError(ErrorCode.NOT_FOUND, f"account {ref!r} not found").with_details(
            account_id=ref
        )
    return account


def _commit(session: Session, account: Account) -> None:
    """Commit; a concurrent writer that took the name or external id first → CONFLICT."""
    session.add(account)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise HamsuError(
            ErrorCode.CONFLICT, "another account with this name or external_id was just created"
        ) from exc
    session.refresh(account)


@router.post(
    "",
    status_code=201,
    response_model=AccountPublic,
    responses=_errors(401, 403, 409, 422),
    summary="Create an account (admin)",
)
def create_account(body: AccountCreate, session: SessionDep, _admin: AdminKey) -> Any:
    """Name, CRM id, tier, and the email domains and phone numbers that identify the customer.
    Phone numbers are stored as digits with the country code. Each name, external id, domain
    and phone number belongs to one account only: a second claim answers 409."""
    check_claims(
        session,
        name=body.name,
        external_id=body.external_id,
        domains=body.domains,
        phones=body.phones,
    )
    account = Account(
        name=body.name,
        external_id=body.external_id,
        tier=body.tier,
        domains=body.domains,
        phones=body.phones,
    )
    _commit(session, account)
    return _account_view(account)


@router.patch(
    "/{account_id}",
    response_model=AccountPublic,
    responses=_errors(401, 403, 404, 409, 422),
    summary="Change an account (admin)",
)
def update_account(
    account_id: AccountId, body: AccountUpdate, session: SessionDep, _admin: AdminKey
) -> Any:
    """Only the fields sent change; `domains` and `phones` replace the whole list and
    `"external_id": null` removes the CRM id. Conversations already linked stay linked."""
    account = _get_account(session, account_id)
    changes = body.model_dump(exclude_unset=True)
    for field in ("name", "tier"):
        if field in changes and changes[field] is None:
            raise HamsuError(ErrorCode.INVALID_OPTION, f"{field} cannot be null")
    check_claims(
        session,
        exclude_id=account.id,
        name=changes.get("name"),
        external_id=changes.get("external_id"),
        domains=changes.get("domains") or (),
        phones=changes.get("phones") or (),
    )
    for field, value in changes.items():
        setattr(account, field, value)
    _commit(session, account)
    return _account_view(account)


@router.get(
    "",
    response_model=AccountsPage,
    responses=_errors(401, 403, 422),
    summary="List accounts with their open item counts (admin, csm, sales)",
)
def list_accounts(
    session: SessionDep,
    key: READER,
    q: Annotated[
        str | None,
        Query(
            max_length=200,
            description="part of the name or the external id, any case",
            examples=["harbor"],
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> Any:
    """Accounts by name. `open_items` counts open and claimed items in the queues the caller
    works (all queues for admins)."""
    query = select(Account)
    count = select(func.count()).select_from(Account)
    if q and q.strip():
        term = q.strip()
        match = or_(
            col(Account.name).icontains(term, autoescape=True),
            col(Account.external_id).icontains(term, autoescape=True),
        )
        query, count = query.where(match), count.where(match)
    accounts = session.exec(
        query.order_by(col(Account.name), col(Account.id)).offset(offset).limit(limit)
    ).all()
    ids = [a.id for a in accounts]
    conversations: dict[str, tuple[int, Any]] = {}
    open_items: dict[str, int] = {}
    if ids:
        for account_id, n, last in session.exec(
            select(
                Conversation.account_id,
                func.count(col(Conversation.id)),
                func.max(col(Conversation.created_at)),
            )
            .where(col(Conversation.account_id).in_(ids))
            .group_by(col(Conversation.account_id))
        ).all():
            conversations[str(account_id)] = (n, last)
        items = (
            select(QueueItem.account_id, func.count(col(QueueItem.id)))
            .where(col(QueueItem.account_id).in_(ids))
            .where(col(QueueItem.status).in_(QueueItemStatus.ACTIVE))
            .group_by(col(QueueItem.account_id))
        )
        queues = _visible_queues(key)
        if queues is not None:
            items = items.where(col(QueueItem.queue).in_(queues))
        open_items = {a: n for a, n in session.exec(items).all() if a}
    rows = []
    for account in accounts:
        n, last = conversations.get(account.id, (0, None))
        last_at: datetime | None = aware(last)
        rows.append(
            {
                **_account_view(account),
                "conversations": n,
                "open_items": open_items.get(account.id, 0),
                "last_conversation_at": last_at.isoformat() if last_at else None,
            }
        )
    return {
        "items": rows,
        "total": session.exec(count).one(),
        "limit": limit,
        "offset": offset,
    }


@router.get(
    "/{account_id}",
    response_model=AccountDetail,
    responses=_errors(401, 403, 404, 422),
    summary="One account: timeline, open items and sentiment trend (admin, csm, sales)",
)
def get_account(
    account_id: AccountId,
    session: SessionDep,
    key: READER,
    timeline_limit: Annotated[
        int,
        Query(ge=1, le=1000, description="at most this many conversations, the most recent"),
    ] = 100,
) -> Any:
    """The account with its conversations across calls, emails and chats, oldest first (each
    with the customer's sentiment, insight counts and the strongest quotes), its open and
    claimed queue items in the caller's queues, and the customer's sentiment trend over the
    timeline's conversations."""
    account = _get_account(session, account_id)
    timeline = _timeline(session, key, account.id)
    total = len(timeline)
    timeline = timeline[-timeline_limit:]
    return {
        **_account_view(account),
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
    queues = _visible_queues(key)
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


def _open_items(session: Session, key: ApiKey, account_id: str) -> list[dict[str, Any]]:
    query = (
        select(QueueItem)
        .where(QueueItem.account_id == account_id)
        .where(col(QueueItem.status).in_(QueueItemStatus.ACTIVE))
    )
    queues = _visible_queues(key)
    if queues is not None:
        query = query.where(col(QueueItem.queue).in_(queues))
    rows = session.exec(
        query.order_by(
            _PRIORITY_ORDER,
            col(QueueItem.due_at).is_(None),
            col(QueueItem.due_at),
            col(QueueItem.created_at),
        )
    ).all()
    return [queue_item_view(session, item) for item in rows]

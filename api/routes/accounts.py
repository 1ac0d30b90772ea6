"""Accounts endpoints (/v1): who the customers are, and everything Hamsu heard from each of them.

Admins create and change accounts; admins, csm and sales read them. An account's open items are
limited to the queues the caller works, and insight quotes on its timeline to the conversations
the caller may open.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from api.account_views import account_detail, account_public, find_account, visible_queues
from api.deps import AdminKey, SessionDep, require_roles
from api.schemas.accounts import (
    AccountCreate,
    AccountDetail,
    AccountPublic,
    AccountsPage,
    AccountUpdate,
)
from api.schemas.errors import ErrorBody
from core.errors import ErrorCode, HamsuError
from models.tables import (
    Account,
    ApiKey,
    Conversation,
    QueueItem,
    QueueItemStatus,
    aware,
)
from pipeline.accounts import check_claims

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

READER = Annotated[ApiKey, Depends(require_roles("csm", "sales"))]
MAX_OFFSET = 10_000_000


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}


AccountId = Annotated[
    str, Path(description="the account's id or its external (CRM) id", examples=["CRM-10442"])
]


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
    return account_public(account)


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
    account = find_account(session, account_id)
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
    return account_public(account)


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
        queues = visible_queues(key)
        if queues is not None:
            items = items.where(col(QueueItem.queue).in_(queues))
        open_items = {a: n for a, n in session.exec(items).all() if a}
    rows = []
    for account in accounts:
        n, last = conversations.get(account.id, (0, None))
        last_at: datetime | None = aware(last)
        rows.append(
            {
                **account_public(account),
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
    return account_detail(session, ref=account_id, key=key, timeline_limit=timeline_limit)

"""Queue items: what CS and Sales have to act on, and the workflow that closes them.

Admins work every queue; csm the `cs` queue, sales the `sales` queue (`api.auth.can_see_queue`).
States and rules live in `routing.workflow`; these routes check roles, read requests and commit.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import DateTime, and_, case, literal, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, func, select

from api.auth import can_see_queue
from api.deps import CurrentKey, SessionDep, require_roles
from api.schemas import ErrorBody
from api.schemas.queues import (
    ClaimRequest,
    DismissRequest,
    NoteRequest,
    QueueItemDetail,
    QueueItemsPage,
    ReleaseRequest,
    ResolveRequest,
)
from api.views import queue_item_view
from core.errors import ErrorCode, HamsuError
from models.tables import ApiKey, QueueItem, QueueItemStatus, utcnow
from routing import workflow
from routing.engine import PRIORITIES
from routing.queue import aware

router = APIRouter(prefix="/v1", tags=["queues"])

WORKER = Annotated[ApiKey, Depends(require_roles("csm", "sales"))]
STATUSES = (
    QueueItemStatus.OPEN,
    QueueItemStatus.CLAIMED,
    QueueItemStatus.RESOLVED,
    QueueItemStatus.DISMISSED,
)
MAX_ID = 2**63 - 1  # SQLite's INTEGER
_RANK = {name: n for n, name in enumerate(PRIORITIES)}
_PRIORITY_ORDER = case(_RANK, value=QueueItem.priority, else_=len(PRIORITIES))
# items without a due time sort after every item with one
_NO_DUE = datetime(9999, 12, 31, tzinfo=UTC)
_DUE = func.coalesce(col(QueueItem.due_at), literal(_NO_DUE, DateTime()))
Sort = Literal["priority", "due", "created", "-created"]
# sort name → (sort key, descending?) from most to least significant; the id always comes last
_SORTS: dict[str, list[tuple[Any, bool]]] = {
    "priority": [(_PRIORITY_ORDER, False), (_DUE, False), (col(QueueItem.top_score), True)],
    "due": [(_DUE, False), (_PRIORITY_ORDER, False), (col(QueueItem.top_score), True)],
    "created": [(col(QueueItem.created_at), False)],
    "-created": [(col(QueueItem.created_at), True)],
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}


# ---------------------------------------------------------------------------------------------
# cursors: the last row's sort key and id, opaque to clients


def _sort_values(sort: str, item: QueueItem) -> list[Any]:
    due = aware(item.due_at) or _NO_DUE
    rank = _RANK.get(item.priority, len(PRIORITIES))
    created = aware(item.created_at).isoformat()  # type: ignore[union-attr]
    values: dict[str, list[Any]] = {
        "priority": [rank, due.isoformat(), item.top_score],
        "due": [due.isoformat(), rank, item.top_score],
        "created": [created],
        "-created": [created],
    }
    return values[sort]


def _encode_cursor(sort: str, item: QueueItem) -> str:
    raw = json.dumps({"s": sort, "k": _sort_values(sort, item), "id": item.id})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(sort: str, cursor: str) -> tuple[list[Any], int]:
    bad = HamsuError(
        ErrorCode.INVALID_OPTION,
        f"cursor is not a next_cursor of this listing sorted by {sort!r}; "
        "start again without cursor",
    )
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        keys, item_id = raw["k"], raw["id"]
        if raw["s"] != sort or not isinstance(keys, list):
            raise bad
        if not isinstance(item_id, int) or not 0 <= item_id <= MAX_ID:
            raise bad
        kinds = {"priority": "isf", "due": "sif", "created": "s", "-created": "s"}[sort]
        if len(keys) != len(kinds):
            raise bad
        values: list[Any] = []
        for kind, value in zip(kinds, keys, strict=True):
            if kind == "s":
                values.append(aware(datetime.fromisoformat(value)))
            elif kind == "i":
                values.append(min(max(int(value), 0), len(PRIORITIES)))
            else:
                values.append(float(value))
        return values, item_id
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError) as exc:
        raise bad from exc


def _after(sort: str, values: list[Any], item_id: int) -> ColumnElement[bool]:
    """Rows strictly after the cursor in the listing's order (keyset pagination)."""
    desc_id = sort == "-created"
    keys = [*_SORTS[sort], (col(QueueItem.id), desc_id)]
    all_values = [*values, item_id]
    clauses = []
    for n, ((expr, desc), value) in enumerate(zip(keys, all_values, strict=True)):
        same = [k == v for (k, _), v in zip(keys[:n], all_values[:n], strict=True)]
        clauses.append(and_(*same, expr < value if desc else expr > value))
    return or_(*clauses)


# ---------------------------------------------------------------------------------------------
# lists


def _statuses(status: str | None) -> tuple[str, ...] | None:
    if status is None:
        return QueueItemStatus.ACTIVE
    if status == "all":
        return None
    wanted = tuple(s.strip() for s in status.split(",") if s.strip())
    unknown = [s for s in wanted if s not in STATUSES]
    if unknown or not wanted:
        raise HamsuError(
            ErrorCode.INVALID_OPTION,
            f"status must be 'all' or a comma-separated list of {', '.join(STATUSES)}; "
            f"got {status!r}",
        )
    return wanted


@router.get(
    "/queues/{queue}/items",
    response_model=QueueItemsPage,
    responses=_errors(400, 401, 403, 422),
    summary="A queue's items, filtered and sorted, one page at a time",
)
def list_queue_items(
    session: SessionDep,
    key: CurrentKey,
    queue: Annotated[str, Path(description="cs or sales", examples=["cs"])],
    status: Annotated[
        str | None,
        Query(
            description="open, claimed, resolved, dismissed (comma-separated for several) or "
            "all; default open,claimed",
            examples=["open,claimed"],
        ),
    ] = None,
    priority: Annotated[Literal["high", "normal", "low"] | None, Query()] = None,
    kind: Annotated[
        Literal["complaint", "unmet_expectation", "upsell", "churn_risk"] | None, Query()
    ] = None,
    assignee: Annotated[
        str | None,
        Query(description="an API key's name, or `me` for the caller", examples=["me"]),
    ] = None,
    account_id: Annotated[str | None, Query()] = None,
    language: Annotated[str | None, Query(examples=["fa"])] = None,
    channel: Annotated[Literal["call", "email", "chat"] | None, Query()] = None,
    overdue: Annotated[
        bool | None, Query(description="true: past due and still open or claimed")
    ] = None,
    sort: Annotated[
        Sort,
        Query(
            description="priority (default: priority, then due time, then score), due "
            "(earliest first), created (oldest first), -created (newest first)"
        ),
    ] = "priority",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[
        str | None, Query(description="the previous page's next_cursor", max_length=500)
    ] = None,
) -> Any:
    """Items of one queue. Without `status`, only work still to do (open and claimed).
    Pages follow `next_cursor`; `total` counts every item matching the filters."""
    if not can_see_queue(key, queue):
        raise HamsuError(ErrorCode.FORBIDDEN, f"role {key.role!r} may not see queue {queue!r}")
    conditions: list[Any] = [QueueItem.queue == queue]
    statuses = _statuses(status)
    if statuses is not None:
        conditions.append(col(QueueItem.status).in_(statuses))
    for column, value in (
        (QueueItem.priority, priority),
        (QueueItem.kind, kind),
        (QueueItem.account_id, account_id),
        (QueueItem.language, language),
        (QueueItem.channel, channel),
        (QueueItem.assignee, key.name if assignee == "me" else assignee),
    ):
        if value is not None:
            conditions.append(col(column) == value)
    if overdue is not None:
        late = and_(
            col(QueueItem.due_at).is_not(None),
            col(QueueItem.due_at) < utcnow(),
            col(QueueItem.status).in_(QueueItemStatus.ACTIVE),
        )
        conditions.append(late if overdue else ~late)
    total = session.exec(select(func.count()).select_from(QueueItem).where(*conditions)).one()
    query = select(QueueItem).where(*conditions)
    if cursor:
        query = query.where(_after(sort, *_decode_cursor(sort, cursor)))
    order = [expr.desc() if desc else expr for expr, desc in _SORTS[sort]]
    order.append(col(QueueItem.id).desc() if sort == "-created" else col(QueueItem.id))
    rows = session.exec(query.order_by(*order).limit(limit + 1)).all()
    page = rows[:limit]
    return {
        "queue": queue,
        "items": [queue_item_view(session, item) for item in page],
        "next_cursor": _encode_cursor(sort, page[-1]) if len(rows) > limit else None,
        "total": total,
    }


# ---------------------------------------------------------------------------------------------
# one item and its workflow

ItemId = Annotated[int, Path(description="the queue item's id", examples=[12], ge=1, le=MAX_ID)]


def _item_for(session: Session, key: ApiKey, item_id: int) -> QueueItem:
    item = session.get(QueueItem, item_id)
    if item is None:
        raise HamsuError(ErrorCode.NOT_FOUND, f"queue item {item_id} not found")
    if not can_see_queue(key, item.queue):
        raise HamsuError(
            ErrorCode.FORBIDDEN, f"role {key.role!r} may not see items of queue {item.queue!r}"
        )
    return item


def _actor(key: ApiKey) -> workflow.Actor:
    return workflow.Actor(name=key.name, is_admin=key.role == "admin")


def _detail(session: Session, item: QueueItem) -> dict[str, Any]:
    events = workflow.history(session, item.id)  # type: ignore[arg-type]
    return queue_item_view(session, item) | {
        "history": [
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "note": e.note,
                "data": e.data,
            }
            for e in events
        ],
        "notes": [
            {"id": e.id, "at": e.at.isoformat(), "author": e.actor, "text": e.note or ""}
            for e in events
            if e.action == "noted"
        ],
    }


def _done(session: Session, item: QueueItem) -> dict[str, Any]:
    session.commit()
    session.refresh(item)
    return _detail(session, item)


@router.get(
    "/queue-items/{item_id}",
    response_model=QueueItemDetail,
    responses=_errors(401, 403, 404, 422),
    summary="One queue item with its insights, history and notes",
)
def get_queue_item(item_id: ItemId, session: SessionDep, key: WORKER) -> Any:
    return _detail(session, _item_for(session, key, item_id))


@router.post(
    "/queue-items/{item_id}/claim",
    response_model=QueueItemDetail,
    responses=_errors(401, 403, 404, 409, 422),
    summary="Claim an item: it becomes yours (assignee = your API key's name)",
)
def claim_queue_item(
    item_id: ItemId, session: SessionDep, key: WORKER, body: ClaimRequest | None = None
) -> Any:
    """Open → claimed. Claiming your own item again changes nothing; an item claimed by someone
    else answers 409 unless an admin sends `force: true`."""
    item = _item_for(session, key, item_id)
    workflow.claim(session, item, _actor(key), force=bool(body and body.force))
    return _done(session, item)


@router.post(
    "/queue-items/{item_id}/release",
    response_model=QueueItemDetail,
    responses=_errors(401, 403, 404, 409, 422),
    summary="Give a claimed item back to the queue",
)
def release_queue_item(
    item_id: ItemId, session: SessionDep, key: WORKER, body: ReleaseRequest | None = None
) -> Any:
    """Claimed → open, by the assignee; an admin may release someone else's claim with
    `force: true`."""
    item = _item_for(session, key, item_id)
    body = body or ReleaseRequest()
    workflow.release(session, item, _actor(key), force=body.force, note=body.note)
    return _done(session, item)


@router.post(
    "/queue-items/{item_id}/resolve",
    response_model=QueueItemDetail,
    responses=_errors(401, 403, 404, 409, 422),
    summary="Resolve an item (sends the queue_item.resolved webhook)",
)
def resolve_queue_item(
    item_id: ItemId, session: SessionDep, key: WORKER, body: ResolveRequest | None = None
) -> Any:
    """Open or claimed → resolved, with an optional note and outcome ("won", "lost",
    "refunded"...) kept in the history and sent in the webhook's `resolution`."""
    item = _item_for(session, key, item_id)
    body = body or ResolveRequest()
    workflow.resolve(session, item, _actor(key), note=body.note, outcome=body.outcome)
    return _done(session, item)


@router.post(
    "/queue-items/{item_id}/dismiss",
    response_model=QueueItemDetail,
    responses=_errors(401, 403, 404, 409, 422),
    summary="Dismiss an item that needs no action, with a reason",
)
def dismiss_queue_item(
    item_id: ItemId, session: SessionDep, key: WORKER, body: DismissRequest
) -> Any:
    """Open or claimed → dismissed. No webhook event is sent for dismissals."""
    item = _item_for(session, key, item_id)
    workflow.dismiss(session, item, _actor(key), reason=body.reason)
    return _done(session, item)


@router.post(
    "/queue-items/{item_id}/notes",
    response_model=QueueItemDetail,
    status_code=201,
    responses=_errors(401, 403, 404, 422),
    summary="Add a note to an item, in any state",
)
def add_queue_item_note(
    item_id: ItemId, session: SessionDep, key: WORKER, body: NoteRequest
) -> Any:
    item = _item_for(session, key, item_id)
    workflow.add_note(session, item, _actor(key), body.text)
    return _done(session, item)

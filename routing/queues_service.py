"""Queue items and reviews as plain functions: what the /v1 routes and the review desk both call.

Every function takes the caller as a `Principal` (an API key's name and role, and the queues that
role works), checks what it may see, does the work through `routing.workflow`, commits, and
returns rows; turning them into JSON or pages is the caller's job. Failures are `HamsuError`s
(NOT_FOUND, FORBIDDEN, CONFLICT, INVALID_OPTION), the same for both callers.

Lists are filtered, sorted and paged as `GET /v1/queues/{queue}/items` documents: keyset pages
whose opaque cursor holds the last row's sort key and id.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import DateTime, and_, case, literal, or_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, func, select

from core.errors import ErrorCode, HamsuError
from core.labels import PRIORITIES
from models.tables import (
    MAX_ID,
    Conversation,
    Insight,
    QueueItem,
    QueueItemInsight,
    QueueItemStatus,
    Review,
    aware,
)
from routing import workflow
from routing.engine import RuleSet
from routing.listening import has_awaiting, is_awaiting
from routing.overdue import overdue_clause

STATUSES = (
    QueueItemStatus.OPEN,
    QueueItemStatus.CLAIMED,
    QueueItemStatus.RESOLVED,
    QueueItemStatus.DISMISSED,
)
Sort = Literal["priority", "due", "created", "-created"]
_RANK = {name: n for n, name in enumerate(PRIORITIES)}
PRIORITY_ORDER = case(_RANK, value=QueueItem.priority, else_=len(PRIORITIES))
# items without a due time sort after every item with one
_NO_DUE = datetime(9999, 12, 31, tzinfo=UTC)
_DUE = func.coalesce(col(QueueItem.due_at), literal(_NO_DUE, DateTime()))
# sort name → (sort key, descending?) from most to least significant; the id always comes last
_SORTS: dict[str, list[tuple[Any, bool]]] = {
    "priority": [(PRIORITY_ORDER, False), (_DUE, False), (col(QueueItem.top_score), True)],
    "due": [(_DUE, False), (PRIORITY_ORDER, False), (col(QueueItem.top_score), True)],
    "created": [(col(QueueItem.created_at), False)],
    "-created": [(col(QueueItem.created_at), True)],
}
# the types of each sort's cursor values: s = timestamp, i = priority rank, f = score
_CURSOR_TYPES = {"priority": "isf", "due": "sif", "created": "s", "-created": "s"}


@dataclass(frozen=True)
class Principal:
    """Who asks: an API key's name and role, and the queues the role works (`api.auth`);
    admins work every queue."""

    name: str
    role: str
    queues: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_see(self, queue: str) -> bool:
        return self.is_admin or queue in self.queues

    @property
    def workflow_actor(self) -> workflow.Actor:
        return workflow.Actor(name=self.name, is_admin=self.is_admin)


@dataclass(frozen=True)
class ItemsPage:
    queue: str
    items: list[QueueItem]
    next_cursor: str | None
    total: int


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
        types = _CURSOR_TYPES[sort]
        if len(keys) != len(types):
            raise bad
        values: list[Any] = []
        for kind, value in zip(types, keys, strict=True):
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
# queries


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


def list_items(
    session: Session,
    *,
    actor: Principal,
    queue: str,
    status: str | None = None,
    priority: str | None = None,
    kind: str | None = None,
    assignee: str | None = None,
    account_id: str | None = None,
    language: str | None = None,
    channel: str | None = None,
    overdue: bool | None = None,
    sort: Sort = "priority",
    limit: int = 50,
    cursor: str | None = None,
) -> ItemsPage:
    """One page of a queue's items. `status`: None = open and claimed, "all", or a
    comma-separated list; `assignee` "me" = the actor; `total` counts every match."""
    if not actor.may_see(queue):
        raise HamsuError(ErrorCode.FORBIDDEN, f"role {actor.role!r} may not see queue {queue!r}")
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
        (QueueItem.assignee, actor.name if assignee == "me" else assignee),
    ):
        if value is not None:
            conditions.append(col(column) == value)
    if overdue is not None:
        late = overdue_clause()
        conditions.append(late if overdue else ~late)
    total = session.exec(select(func.count()).select_from(QueueItem).where(*conditions)).one()
    query = select(QueueItem).where(*conditions)
    if cursor:
        query = query.where(_after(sort, *_decode_cursor(sort, cursor)))
    order = [expr.desc() if desc else expr for expr, desc in _SORTS[sort]]
    order.append(col(QueueItem.id).desc() if sort == "-created" else col(QueueItem.id))
    rows = session.exec(query.order_by(*order).limit(limit + 1)).all()
    page = list(rows[:limit])
    return ItemsPage(
        queue=queue,
        items=page,
        next_cursor=_encode_cursor(sort, page[-1]) if len(rows) > limit else None,
        total=total,
    )


def get_item(session: Session, *, item_id: int, actor: Principal) -> QueueItem:
    item = session.get(QueueItem, item_id)
    if item is None:
        raise HamsuError(ErrorCode.NOT_FOUND, f"queue item {item_id} not found")
    if not actor.may_see(item.queue):
        raise HamsuError(
            ErrorCode.FORBIDDEN, f"role {actor.role!r} may not see items of queue {item.queue!r}"
        )
    return item


def items_of_conversation(
    session: Session, *, conversation_id: str, actor: Principal
) -> list[QueueItem]:
    """The items holding the conversation's insights, in the actor's queues, oldest first."""
    query = (
        select(QueueItem)
        .join(QueueItemInsight, col(QueueItemInsight.item_id) == col(QueueItem.id))
        .join(Insight, col(Insight.id) == col(QueueItemInsight.insight_id))
        .where(Insight.conversation_id == conversation_id)
        .distinct()
        .order_by(col(QueueItem.id))
    )
    if not actor.is_admin:
        query = query.where(col(QueueItem.queue).in_(actor.queues))
    return list(session.exec(query).all())


# ---------------------------------------------------------------------------------------------
# the workflow of one item (rules and events: routing.workflow)


def _saved(session: Session, item: QueueItem) -> QueueItem:
    session.commit()
    session.refresh(item)
    return item


def claim(session: Session, *, item_id: int, actor: Principal, force: bool = False) -> QueueItem:
    item = get_item(session, item_id=item_id, actor=actor)
    workflow.claim(session, item, actor.workflow_actor, force=force)
    return _saved(session, item)


def release(
    session: Session,
    *,
    item_id: int,
    actor: Principal,
    force: bool = False,
    note: str | None = None,
) -> QueueItem:
    item = get_item(session, item_id=item_id, actor=actor)
    workflow.release(session, item, actor.workflow_actor, force=force, note=note)
    return _saved(session, item)


def resolve(
    session: Session,
    *,
    item_id: int,
    actor: Principal,
    note: str | None = None,
    outcome: str | None = None,
) -> QueueItem:
    item = get_item(session, item_id=item_id, actor=actor)
    workflow.resolve(session, item, actor.workflow_actor, note=note, outcome=outcome)
    return _saved(session, item)


def dismiss(session: Session, *, item_id: int, actor: Principal, reason: str) -> QueueItem:
    item = get_item(session, item_id=item_id, actor=actor)
    workflow.dismiss(session, item, actor.workflow_actor, reason=reason)
    return _saved(session, item)


def add_note(session: Session, *, item_id: int, actor: Principal, text: str) -> QueueItem:
    item = get_item(session, item_id=item_id, actor=actor)
    workflow.add_note(session, item, actor.workflow_actor, text)
    return _saved(session, item)


# ---------------------------------------------------------------------------------------------
# reviews


def reviewable_insight(session: Session, *, insight_id: int, actor: Principal) -> Insight:
    """The insight, if the actor may review it: admins any; others one in an item of their
    queues, or one held for listening (in no queue yet: whoever listens gives the verdict)."""
    insight = session.get(Insight, insight_id)
    if insight is None:
        raise HamsuError(ErrorCode.NOT_FOUND, f"insight {insight_id} not found")
    if actor.is_admin or (insight.needs_listening and is_awaiting(session, insight_id=insight_id)):
        return insight
    in_queue = session.exec(
        select(QueueItem.id)
        .join(QueueItemInsight, col(QueueItemInsight.item_id) == col(QueueItem.id))
        .where(QueueItemInsight.insight_id == insight_id)
        .where(col(QueueItem.queue).in_(actor.queues))
        .limit(1)
    ).first()
    if in_queue is None:
        raise HamsuError(
            ErrorCode.FORBIDDEN,
            f"role {actor.role!r} may only review insights in items of its queues "
            f"({', '.join(sorted(actor.queues)) or 'none'})",
        )
    return insight


def review(
    session: Session,
    *,
    insight_id: int,
    actor: Principal,
    verdict: str,
    corrected_kind: str | None = None,
    corrected_category: str | None = None,
    corrected_sentiment: str | None = None,
    note: str | None = None,
    rules: RuleSet | None = None,
) -> workflow.ReviewOutcome:
    """Store the actor's verdict and apply it (`routing.workflow.review_insight`), committed."""
    insight = reviewable_insight(session, insight_id=insight_id, actor=actor)
    outcome = workflow.review_insight(
        session,
        insight,
        actor.name,
        verdict,
        corrected_kind=corrected_kind,
        corrected_category=corrected_category,
        corrected_sentiment=corrected_sentiment,
        note=note,
        rules=rules,
    )
    session.commit()
    session.refresh(outcome.review)
    return outcome


def reviews_of(
    session: Session, *, insight_id: int, actor: Principal
) -> tuple[Insight, Sequence[Review]]:
    """The insight and every review of it, oldest first (the last one counts)."""
    insight = reviewable_insight(session, insight_id=insight_id, actor=actor)
    reviews = session.exec(
        select(Review)
        .where(Review.insight_id == insight_id)
        .order_by(col(Review.created_at), col(Review.id))
    ).all()
    return insight, reviews


def may_read_conversation(session: Session, *, conversation_id: str, actor: Principal) -> bool:
    """Admins read everything; csm and sales read conversations behind their queues' items, and
    those held for listening (someone has to listen before they can reach a queue)."""
    if actor.is_admin:
        return True
    if not actor.queues:
        return False
    if has_awaiting(session, conversation_id=conversation_id):
        return True
    from_insights = (
        select(QueueItem.id)
        .join(QueueItemInsight, col(QueueItemInsight.item_id) == col(QueueItem.id))
        .join(Insight, col(Insight.id) == col(QueueItemInsight.insight_id))
        .where(Insight.conversation_id == conversation_id)
        .where(col(QueueItem.queue).in_(actor.queues))
    )
    return session.exec(from_insights.limit(1)).first() is not None


def readable_conversation(
    session: Session, *, conversation_id: str, actor: Principal
) -> Conversation:
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        raise HamsuError(ErrorCode.NOT_FOUND, f"conversation {conversation_id} not found")
    if not may_read_conversation(session, conversation_id=conversation_id, actor=actor):
        raise HamsuError(
            ErrorCode.FORBIDDEN, f"role {actor.role!r} may not read conversation {conversation_id}"
        )
    return conversation

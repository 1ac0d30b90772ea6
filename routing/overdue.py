"""When a queue item is overdue, defined once: it has a due time, that time has passed, and the
item is still open or claimed. `is_overdue` answers for a loaded item (the JSON views, the desk);
`overdue_clause` is the same rule as a SQL condition (the `overdue` filter of the queue lists).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from models.tables import QueueItem, QueueItemStatus, aware, utcnow


def is_overdue(item: QueueItem, now: datetime | None = None) -> bool:
    due = aware(item.due_at)
    return bool(due and item.status in QueueItemStatus.ACTIVE and due < (now or utcnow()))


def overdue_clause(now: datetime | None = None) -> ColumnElement[bool]:
    return and_(
        col(QueueItem.due_at).is_not(None),
        col(QueueItem.due_at) < (now or utcnow()),
        col(QueueItem.status).in_(QueueItemStatus.ACTIVE),
    )

"""Queue items: what CS and Sales have to act on."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy import case
from sqlmodel import col, func, select

from api.auth import can_see_queue
from api.deps import CurrentKey, SessionDep
from api.schemas import QueueItemsPage
from api.views import queue_item_view
from core.errors import ErrorCode, HamsuError
from models.tables import QueueItem

router = APIRouter(prefix="/v1/queues", tags=["queues"])
_PRIORITY_ORDER = case({"high": 0, "normal": 1, "low": 2}, value=QueueItem.priority, else_=3)


@router.get("/{queue}/items", response_model=QueueItemsPage)
def list_queue_items(
    queue: str,
    session: SessionDep,
    key: CurrentKey,
    status: Annotated[str | None, Query(description="open, claimed, resolved, dismissed")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> Any:
    """Most urgent first: priority, then the strongest evidence, then the oldest."""
    if not can_see_queue(key, queue):
        raise HamsuError(ErrorCode.FORBIDDEN, f"role {key.role!r} may not see queue {queue!r}")
    query = select(QueueItem).where(QueueItem.queue == queue)
    count = select(func.count()).select_from(QueueItem).where(QueueItem.queue == queue)
    if status:
        query = query.where(QueueItem.status == status)
        count = count.where(QueueItem.status == status)
    rows = session.exec(
        query.order_by(_PRIORITY_ORDER, col(QueueItem.top_score).desc(), col(QueueItem.created_at))
        .offset(offset)
        .limit(limit)
    ).all()
    return {
        "queue": queue,
        "items": [queue_item_view(session, item) for item in rows],
        "total": session.exec(count).one(),
    }

"""Queue items: what CS and Sales have to act on, and the workflow that closes them.

Admins work every queue; csm the `cs` queue, sales the `sales` queue (`api.auth.can_see_queue`).
The work (queue checks, filters and paging, the state changes) is `routing.queues_service`, which
the review desk calls too; these routes read requests and write responses.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from api.deps import CurrentPrincipal, SessionDep, WorkerPrincipal
from api.schemas.errors import ErrorBody
from api.schemas.queues import (
    ClaimRequest,
    DismissRequest,
    NoteRequest,
    QueueItemDetail,
    QueueItemsPage,
    ReleaseRequest,
    ResolveRequest,
)
from api.views import page_view, queue_item_detail
from core.labels import InsightKind, Priority
from models.tables import MAX_ID
from routing import queues_service as service
from routing.queues_service import Sort

router = APIRouter(prefix="/v1", tags=["queues"])


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}


@router.get(
    "/queues/{queue}/items",
    response_model=QueueItemsPage,
    responses=_errors(401, 403, 422),
    summary="A queue's items, filtered and sorted, one page at a time",
)
def list_queue_items(
    session: SessionDep,
    actor: CurrentPrincipal,
    queue: Annotated[str, Path(description="cs or sales", examples=["cs"])],
    status: Annotated[
        str | None,
        Query(
            description="open, claimed, resolved, dismissed (comma-separated for several) or "
            "all; default open,claimed",
            examples=["open,claimed"],
        ),
    ] = None,
    priority: Annotated[Priority | None, Query()] = None,
    kind: Annotated[InsightKind | None, Query()] = None,
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
    page = service.list_items(
        session,
        actor=actor,
        queue=queue,
        status=status,
        priority=priority,
        kind=kind,
        assignee=assignee,
        account_id=account_id,
        language=language,
        channel=channel,
        overdue=overdue,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    return page_view(session, page)


# ---------------------------------------------------------------------------------------------
# one item and its workflow

ItemId = Annotated[int, Path(description="the queue item's id", examples=[12], ge=1, le=MAX_ID)]


@router.get(
    "/queue-items/{item_id}",
    response_model=QueueItemDetail,
    responses=_errors(401, 403, 404, 422),
    summary="One queue item with its insights, history and notes",
)
def get_queue_item(item_id: ItemId, session: SessionDep, actor: WorkerPrincipal) -> Any:
    return queue_item_detail(session, service.get_item(session, item_id=item_id, actor=actor))


@router.post(
    "/queue-items/{item_id}/claim",
    response_model=QueueItemDetail,
    responses=_errors(401, 403, 404, 409, 422),
    summary="Claim an item: it becomes yours (assignee = your API key's name)",
)
def claim_queue_item(
    item_id: ItemId, session: SessionDep, actor: WorkerPrincipal, body: ClaimRequest | None = None
) -> Any:
    """Open → claimed. Claiming your own item again changes nothing; an item claimed by someone
    else answers 409 unless an admin sends `force: true`."""
    item = service.claim(session, item_id=item_id, actor=actor, force=bool(body and body.force))
    return queue_item_detail(session, item)


@router.post(
    "/queue-items/{item_id}/release",
    response_model=QueueItemDetail,
    responses=_errors(401, 403, 404, 409, 422),
    summary="Give a claimed item back to the queue",
)
def release_queue_item(
    item_id: ItemId, session: SessionDep, actor: WorkerPrincipal, body: ReleaseRequest | None = None
) -> Any:
    """Claimed → open, by the assignee; an admin may release someone else's claim with
    `force: true`."""
    body = body or ReleaseRequest()
    item = service.release(session, item_id=item_id, actor=actor, force=body.force, note=body.note)
    return queue_item_detail(session, item)


@router.post(
    "/queue-items/{item_id}/resolve",
    response_model=QueueItemDetail,
    responses=_errors(401, 403, 404, 409, 422),
    summary="Resolve an item (sends the queue_item.resolved webhook)",
)
def resolve_queue_item(
    item_id: ItemId, session: SessionDep, actor: WorkerPrincipal, body: ResolveRequest | None = None
) -> Any:
    """Open or claimed → resolved, with an optional note and outcome ("won", "lost",
    "refunded"...) kept in the history and sent in the webhook's `resolution`."""
    body = body or ResolveRequest()
    item = service.resolve(
        session, item_id=item_id, actor=actor, note=body.note, outcome=body.outcome
    )
    return queue_item_detail(session, item)


@router.post(
    "/queue-items/{item_id}/dismiss",
    response_model=QueueItemDetail,
    responses=_errors(401, 403, 404, 409, 422),
    summary="Dismiss an item that needs no action, with a reason",
)
def dismiss_queue_item(
    item_id: ItemId, session: SessionDep, actor: WorkerPrincipal, body: DismissRequest
) -> Any:
    """Open or claimed → dismissed. No webhook event is sent for dismissals."""
    item = service.dismiss(session, item_id=item_id, actor=actor, reason=body.reason)
    return queue_item_detail(session, item)


@router.post(
    "/queue-items/{item_id}/notes",
    response_model=QueueItemDetail,
    status_code=201,
    responses=_errors(401, 403, 404, 422),
    summary="Add a note to an item, in any state",
)
def add_queue_item_note(
    item_id: ItemId, session: SessionDep, actor: WorkerPrincipal, body: NoteRequest
) -> Any:
    item = service.add_note(session, item_id=item_id, actor=actor, text=body.text)
    return queue_item_detail(session, item)

"""Reviews (/v1): confirm, reject or correct an insight; export the verdicts as training data.

Admins review any insight; csm and sales review insights that sit in an item of their queue. What a
review does to the queues (automatic dismissal, rerouting a kind correction) is described in
`routing.workflow`.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import Response
from sqlmodel import Session, col, select

from api.auth import QUEUE_ACCESS
from api.deps import AdminKey, SessionDep, SettingsDep, require_roles
from api.schemas import ErrorBody
from api.schemas.reviews import InsightReviews, ReviewCreate, ReviewResult
from core.errors import ErrorCode, HamsuError
from models.tables import ApiKey, Insight, QueueItem, QueueItemInsight, Review
from routing import workflow
from routing.engine import load_rules
from routing.listening import is_awaiting

router = APIRouter(tags=["reviews"])

REVIEWER = Annotated[ApiKey, Depends(require_roles("csm", "sales"))]
InsightId = Annotated[int, Path(description="the insight's id", examples=[17], ge=1, le=2**63 - 1)]
EXPORT_EXAMPLE = (
    '{"text": "we will cancel our contract and move to your competitor", "lang": "en", '
    '"labels": ["churn_risk"], "tasks": ["complaint", "churn_risk"], "sentiment": "negative", '
    '"category": null, "id": "review-3", "insight_id": 17, "conversation_id": "9f2c...", '
    '"kind": "complaint", "verdict": "correct", "corrected_kind": "churn_risk", '
    '"reviewer": "maryam-cs", "created_at": "2025-03-14T13:20:05.120000+00:00"}\n'
)


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}


def _reviewable(session: Session, key: ApiKey, insight_id: int) -> Insight:
    insight = session.get(Insight, insight_id)
    if insight is None:
        raise HamsuError(ErrorCode.NOT_FOUND, f"insight {insight_id} not found")
    if key.role == "admin" or (
        insight.needs_listening and is_awaiting(session, insight_id=insight_id)
    ):
        # a held insight is in no queue yet: whoever listens to it gives the verdict
        return insight
    queues = QUEUE_ACCESS.get(key.role, frozenset())
    in_queue = session.exec(
        select(QueueItem.id)
        .join(QueueItemInsight, col(QueueItemInsight.item_id) == col(QueueItem.id))
        .where(QueueItemInsight.insight_id == insight_id)
        .where(col(QueueItem.queue).in_(queues))
        .limit(1)
    ).first()
    if in_queue is None:
        raise HamsuError(
            ErrorCode.FORBIDDEN,
            f"role {key.role!r} may only review insights in items of its queues "
            f"({', '.join(sorted(queues)) or 'none'})",
        )
    return insight


@router.post(
    "/v1/insights/{insight_id}/reviews",
    status_code=201,
    response_model=ReviewResult,
    responses=_errors(400, 401, 403, 404, 409, 422),
    summary="Confirm, reject or correct an insight",
)
def create_review(
    insight_id: InsightId,
    body: ReviewCreate,
    session: SessionDep,
    settings: SettingsDep,
    key: REVIEWER,
) -> Any:
    """Stores the verdict with the reviewer (the API key's name) and the time; the latest
    review counts. Sends `insight.reviewed`. An open or claimed item whose insights are all
    rejected (or corrected to another kind) is dismissed automatically; a correction to another
    kind is routed by the rules like a new insight of that kind."""
    insight = _reviewable(session, key, insight_id)
    outcome = workflow.review_insight(
        session,
        insight,
        key.name,
        body.verdict,
        corrected_kind=body.corrected_kind,
        corrected_category=body.corrected_category,
        corrected_sentiment=body.corrected_sentiment,
        note=body.note,
        rules=load_rules(settings.routing.rules_path),
    )
    session.commit()
    session.refresh(outcome.review)
    return {
        "review": workflow.review_view(outcome.review),
        "effective_kind": outcome.effective_kind,
        "queue_items": outcome.queue_items,
        "auto_dismissed": outcome.auto_dismissed,
        "rerouted_to": outcome.rerouted_to,
    }


@router.get(
    "/v1/insights/{insight_id}/reviews",
    response_model=InsightReviews,
    responses=_errors(401, 403, 404, 422),
    summary="Every review of an insight, oldest first",
)
def list_reviews(insight_id: InsightId, session: SessionDep, key: REVIEWER) -> Any:
    insight = _reviewable(session, key, insight_id)
    reviews = session.exec(
        select(Review)
        .where(Review.insight_id == insight_id)
        .order_by(col(Review.created_at), col(Review.id))
    ).all()
    return {
        "insight_id": insight_id,
        "kind": insight.kind,
        "effective_kind": workflow.effective_kind(insight, reviews[-1] if reviews else None),
        "reviews": [workflow.review_view(r) for r in reviews],
    }


@router.get(
    "/v1/reviews/export",
    response_class=Response,
    responses={
        200: {
            "description": "one JSON object per line: the latest verdict of each reviewed "
            "insight, as `make train` (training.datasets.review_examples) reads it",
            "content": {"application/x-ndjson": {"example": EXPORT_EXAMPLE}},
        },
        **_errors(401, 403),
    },
    summary="Reviewed insights as JSONL training rows (admin)",
)
def export_reviews(session: SessionDep, _admin: AdminKey) -> Response:
    """`labels`: the kinds true after the review; `tasks`: the kinds the row says something
    about (confirm → [kind]/[kind]; reject or correct to none → []/[kind]; correct to K →
    [K]/[kind, K]); `sentiment`: the corrected one or null; `category`: the corrected or
    original complaint category when the row is a complaint, else null."""
    lines = [json.dumps(row, ensure_ascii=False) + "\n" for row in workflow.export_rows(session)]
    return Response(
        "".join(lines),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="hamsu-reviews.jsonl"'},
    )

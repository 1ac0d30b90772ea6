"""Reviews (/v1): confirm, reject or correct an insight; export the verdicts as training data.

Admins review any insight; csm and sales review insights that sit in an item of their queue. What a
review does to the queues (automatic dismissal, rerouting a kind correction) is described in
`routing.workflow`; the checks and the work are `routing.queues_service`, shared with the desk.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from api.deps import AdminKey, SessionDep, SettingsDep, WorkerPrincipal
from api.schemas.errors import ErrorBody
from api.schemas.reviews import InsightReviews, ReviewCreate, ReviewResult
from api.views import review_public
from models.tables import MAX_ID
from routing import queues_service as service
from routing import workflow
from routing.engine import load_rules

router = APIRouter(tags=["reviews"])

InsightId = Annotated[int, Path(description="the insight's id", examples=[17], ge=1, le=MAX_ID)]
EXPORT_EXAMPLE = (
    '{"text": "we will cancel our contract and move to your competitor", "lang": "en", '
    '"labels": ["churn_risk"], "tasks": ["complaint", "churn_risk"], "sentiment": "negative", '
    '"category": null, "id": "review-3", "insight_id": 17, "conversation_id": "9f2c...", '
    '"kind": "complaint", "verdict": "correct", "corrected_kind": "churn_risk", '
    '"reviewer": "maryam-cs", "created_at": "2025-03-14T13:20:05.120000+00:00"}\n'
)


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}


@router.post(
    "/v1/insights/{insight_id}/reviews",
    status_code=201,
    response_model=ReviewResult,
    responses=_errors(401, 403, 404, 409, 422),
    summary="Confirm, reject or correct an insight",
)
def create_review(
    insight_id: InsightId,
    body: ReviewCreate,
    session: SessionDep,
    settings: SettingsDep,
    actor: WorkerPrincipal,
) -> Any:
    """Stores the verdict with the reviewer (the API key's name) and the time; the latest
    review counts. Sends `insight.reviewed`. An open or claimed item whose insights are all
    rejected (or corrected to another kind) is dismissed automatically; a correction to another
    kind is routed by the rules like a new insight of that kind."""
    outcome = service.review(
        session,
        insight_id=insight_id,
        actor=actor,
        verdict=body.verdict,
        corrected_kind=body.corrected_kind,
        corrected_category=body.corrected_category,
        corrected_sentiment=body.corrected_sentiment,
        note=body.note,
        rules=load_rules(settings.routing.rules_path),
    )
    return {
        "review": review_public(outcome.review),
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
def list_reviews(insight_id: InsightId, session: SessionDep, actor: WorkerPrincipal) -> Any:
    insight, reviews = service.reviews_of(session, insight_id=insight_id, actor=actor)
    return {
        "insight_id": insight_id,
        "kind": insight.kind,
        "effective_kind": workflow.effective_kind(insight, reviews[-1] if reviews else None),
        "reviews": [review_public(r) for r in reviews],
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

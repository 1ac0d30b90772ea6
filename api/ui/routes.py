"""The review desk's pages. They call the same services as the /v1 routes
(`routing.queues_service`), with the same role checks: a page shows what the caller's API key may
read, and its forms change what that key may change. Sign-in stores the key in an HttpOnly cookie
(`hamsu_key`), which `api.deps.current_key` also accepts, so the audio player can fetch
`/v1/conversations/{id}/audio`. Who may open what: `api.ui.desk.DeskUser`.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlmodel import col, select

from api.auth import authenticate, principal
from api.deps import SessionDep, SettingsDep
from api.schemas.queues import DismissRequest, ReleaseRequest, ResolveRequest
from api.schemas.reviews import ReviewCreate
from api.ui import dashboard
from api.ui.desk import (
    KEY_COOKIE,
    AnyDeskUser,
    DeskRoute,
    DeskUser,
    SignedIn,
    form,
    render,
    safe_next,
)
from api.ui.i18n import LANG_COOKIE, LANGS
from api.views import account_name, conversation_view, page_view, review_brief
from core.labels import COMPLAINT_CATEGORIES, INSIGHT_KINDS, PRIORITIES, REVIEW_KINDS
from models.tables import ApiKey, Insight, QueueItemInsight, QueueItemStatus
from routing import queues_service as service
from routing import workflow
from routing.engine import load_rules
from routing.listening import awaiting_insights, to_listen
from routing.overdue import is_overdue

router = APIRouter(include_in_schema=False, route_class=DeskRoute)
router.include_router(dashboard.router)

STATUS_FILTERS = ("active", "open", "claimed", "resolved", "dismissed", "all")
COOKIE_DAYS = 30


def _home(key: ApiKey) -> str:
    if key.role == "uploader":
        return "/upload"
    if key.role == "sales":
        return "/queues/sales"
    return "/queues/cs"


# ---------------------------------------------------------------------------------------------
# sign in and out, language


@router.get("/login")
def login_page(request: Request, next: str | None = None, failed: bool = False) -> Response:
    return render(request, "login.html", None, next=safe_next(next), failed=failed)


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    api_key: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    key = authenticate(session, api_key.strip()) if api_key.strip() else None
    if key is None:
        return render(
            request, "login.html", None, status_code=401, next=safe_next(next), failed=True
        )
    target = safe_next(next)
    response = RedirectResponse(_home(key) if target == "/" else target, status_code=303)
    response.set_cookie(
        KEY_COOKIE,
        api_key.strip(),
        max_age=COOKIE_DAYS * 86400,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(KEY_COOKIE, path="/", httponly=True, samesite="strict")
    return response


@router.get("/lang/{lang}")
def set_language(lang: str, next: str | None = None) -> Response:
    response = RedirectResponse(safe_next(next), status_code=303)
    if lang in LANGS:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/", httponly=False
        )
    return response


@router.get("/")
def home(key: SignedIn) -> Response:
    return RedirectResponse("/login" if key is None else _home(key), status_code=303)


@router.get("/upload")
def upload_page(request: Request, key: AnyDeskUser) -> Response:
    return render(request, "uploader.html", key)


# ---------------------------------------------------------------------------------------------
# inbox


@router.get("/queues/{queue}")
def inbox(
    request: Request,
    queue: str,
    session: SessionDep,
    key: DeskUser,
    status: str = "active",
    priority: str = "",
    kind: str = "",
    overdue: str = "",
) -> Response:
    filters = {
        "status": status if status in STATUS_FILTERS else "active",
        "priority": priority if priority in PRIORITIES else "",
        "kind": kind if kind in INSIGHT_KINDS else "",
        "overdue": overdue if overdue in ("yes", "no") else "",
    }
    page = service.list_items(
        session,
        actor=principal(key),
        queue=queue,
        status=None if filters["status"] == "active" else filters["status"],
        priority=filters["priority"] or None,
        kind=filters["kind"] or None,
        overdue={"yes": True, "no": False}.get(filters["overdue"]),
        sort="priority",
        limit=200,
    )
    return render(
        request,
        "inbox.html",
        key,
        queue=queue,
        page=page_view(session, page),
        filters=filters,
        statuses=STATUS_FILTERS,
        priorities=PRIORITIES,
        kinds=INSIGHT_KINDS,
    )


# ---------------------------------------------------------------------------------------------
# conversation


def highlight(text: str, spans: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """The turn's text cut into (piece, is_evidence) parts; overlapping spans merge."""
    merged: list[list[int]] = []
    for start, end in sorted((max(0, s), min(len(text), e)) for s, e in spans if e > s):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    parts: list[tuple[str, bool]] = []
    at = 0
    for start, end in merged:
        if start > at:
            parts.append((text[at:start], False))
        parts.append((text[start:end], True))
        at = end
    if at < len(text):
        parts.append((text[at:], False))
    return parts


@router.get("/conversations/{conversation_id}")
def conversation_page(
    request: Request,
    conversation_id: str,
    session: SessionDep,
    settings: SettingsDep,
    key: DeskUser,
    item: int | None = None,
    flash: str = "",
) -> Response:
    conversation = service.readable_conversation(
        session, conversation_id=conversation_id, actor=principal(key)
    )
    view = conversation_view(session, conversation).model_dump()
    rows = session.exec(
        select(Insight)
        .where(Insight.conversation_id == conversation_id)
        .order_by(col(Insight.index))
    ).all()
    reviews = workflow.latest_reviews(session, (r.id for r in rows if r.id is not None))
    insights = []
    for row, data in zip(rows, view["insights"], strict=True):
        review = reviews.get(row.id)  # type: ignore[arg-type]
        insights.append(
            data
            | {
                "id": row.id,
                "review": review_brief(review),
                "effective_kind": workflow.effective_kind(row, review),
            }
        )
    by_turn: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for insight in insights:
        by_turn[insight["turn"]].append(insight)
    turns = [
        turn
        | {
            "parts": highlight(
                turn["text"],
                [(i["span"]["start"], i["span"]["end"]) for i in by_turn.get(turn["index"], [])],
            ),
            "insights": by_turn.get(turn["index"], []),
        }
        for turn in view["turns"]
    ]
    items: list[dict[str, Any]] = []
    for row_item in service.items_of_conversation(
        session, conversation_id=conversation_id, actor=principal(key)
    ):
        items.append(
            {
                "row": row_item,
                "insight_ids": set(
                    session.exec(
                        select(QueueItemInsight.insight_id).where(
                            QueueItemInsight.item_id == row_item.id
                        )
                    ).all()
                ),
                "active": row_item.status in QueueItemStatus.ACTIVE,
                "overdue": is_overdue(row_item),
                "history": workflow.history(session, row_item.id),  # type: ignore[arg-type]
            }
        )
    items.sort(key=lambda i: (i["row"].id != item, i["row"].id))
    return render(
        request,
        "conversation.html",
        key,
        conv=view,
        conversation=conversation,
        turns=turns,
        insights=insights,
        items=items,
        selected=item,
        flash=flash,
        review_kinds=REVIEW_KINDS,
        categories=COMPLAINT_CATEGORIES,
        audio_url=f"/v1/conversations/{conversation_id}/audio"
        if view["channel"] == "call"
        else None,
        hold_below=settings.nlp.hold_below_confidence,
    )


@router.get("/listen")
def listen_page(request: Request, session: SessionDep, key: DeskUser) -> Response:
    """Calls whose insights are held until someone listens (the to-listen list)."""
    rows = []
    for conversation in to_listen(session, limit=200):
        held = session.exec(
            select(Insight)
            .where(col(Insight.id).in_(awaiting_insights()))
            .where(Insight.conversation_id == conversation.id)
        ).all()
        confidences = [i.transcript_confidence for i in held if i.transcript_confidence is not None]
        rows.append(
            {
                "conversation": conversation,
                "insights": held,
                "account": account_name(session, conversation.account_id),
                "confidence": min(confidences) if confidences else None,
            }
        )
    return render(request, "listen.html", key, rows=rows)


# ---------------------------------------------------------------------------------------------
# forms: a verdict on an insight, the workflow of an item


def _back(conversation_id: str, item: int | None, flash: str) -> RedirectResponse:
    query = {"flash": flash} | ({"item": str(item)} if item else {})
    return RedirectResponse(f"/conversations/{conversation_id}?{urlencode(query)}", status_code=303)


@router.post("/ui/insights/{insight_id}/review")
def review_action(
    insight_id: int,
    session: SessionDep,
    settings: SettingsDep,
    key: DeskUser,
    verdict: Annotated[str, Form()],
    conversation_id: Annotated[str, Form()],
    item: Annotated[int | None, Form()] = None,
    corrected_kind: Annotated[str, Form()] = "",
    corrected_category: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    body = form(
        ReviewCreate,
        verdict=verdict,
        corrected_kind=corrected_kind or None,
        corrected_category=corrected_category or None,
        note=note.strip() or None,
    )
    service.review(
        session,
        insight_id=insight_id,
        actor=principal(key),
        verdict=body.verdict,
        corrected_kind=body.corrected_kind,
        corrected_category=body.corrected_category,
        corrected_sentiment=body.corrected_sentiment,
        note=body.note,
        rules=load_rules(settings.routing.rules_path),
    )
    return _back(conversation_id, item, "reviewed")


@router.post("/ui/items/{item_id}/{action}")
def item_action(
    item_id: int,
    action: str,
    session: SessionDep,
    key: DeskUser,
    conversation_id: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
    outcome: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    actor = principal(key)
    note_or_none = note.strip() or None
    if action == "claim":
        service.claim(session, item_id=item_id, actor=actor)
    elif action == "release":
        released = form(ReleaseRequest, note=note_or_none)
        service.release(session, item_id=item_id, actor=actor, note=released.note)
    elif action == "resolve":
        resolved = form(ResolveRequest, note=note_or_none, outcome=outcome.strip() or None)
        service.resolve(
            session, item_id=item_id, actor=actor, note=resolved.note, outcome=resolved.outcome
        )
    elif action == "dismiss":
        dismissed = form(DismissRequest, reason=reason.strip() or "-")
        service.dismiss(session, item_id=item_id, actor=actor, reason=dismissed.reason)
    else:
        return Response(status_code=404)
    return _back(conversation_id, item_id, action)

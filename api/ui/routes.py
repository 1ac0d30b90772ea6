"""The review desk's pages. They call the same functions as the /v1 routes, with the same role
checks: a page shows what the caller's API key may read, and its forms change what that key may
change. Sign-in stores the key in an HttpOnly cookie (`hamsu_key`), which `api.deps.current_key`
also accepts, so the audio player can fetch `/v1/conversations/{id}/audio`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session, col, select

from api.auth import QUEUE_ACCESS, authenticate, can_see_queue
from api.deps import SessionDep, SettingsDep
from api.routes.accounts import get_account
from api.routes.conversations import get_readable
from api.routes.queues import (
    claim_queue_item,
    dismiss_queue_item,
    list_queue_items,
    release_queue_item,
    resolve_queue_item,
)
from api.routes.reviews import create_review
from api.schemas.queues import ClaimRequest, DismissRequest, ReleaseRequest, ResolveRequest
from api.schemas.reviews import ReviewCreate
from api.ui import TEMPLATES_DIR
from api.ui.i18n import LANG_COOKIE, LANGS, pick_lang, translator
from api.ui.jalali import format_date, format_short, to_persian_digits
from api.views import account_name, conversation_view
from core.errors import ErrorCode, HamsuError
from models.tables import (
    ApiKey,
    Conversation,
    Insight,
    QueueItem,
    QueueItemInsight,
    QueueItemStatus,
)
from routing import workflow
from routing.engine import KINDS, PRIORITIES
from routing.listening import awaiting_insights, to_listen
from routing.queue import aware

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))

KEY_COOKIE = "hamsu_key"
QUEUES = ("cs", "sales")
STATUS_FILTERS = ("active", "open", "claimed", "resolved", "dismissed", "all")
# dates show in Tehran time in Persian and in UTC in English (the footer says which)
ZONES = {"fa": ZoneInfo("Asia/Tehran"), "en": UTC}
COOKIE_DAYS = 30


# ---------------------------------------------------------------------------------------------
# helpers


def _lang(request: Request) -> str:
    return pick_lang(request.cookies.get(LANG_COOKIE))


def _signed_in(request: Request, session: Session, settings: Any) -> ApiKey | None:
    if not settings.auth.enabled:
        return ApiKey(name="auth-disabled", role="admin", prefix="", key_hash="")
    presented = request.cookies.get(KEY_COOKIE)
    return authenticate(session, presented) if presented else None


def _to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)


def _safe_next(value: str | None, default: str = "/") -> str:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return default


def _home(key: ApiKey) -> str:
    if key.role == "uploader":
        return "/upload"
    if key.role == "sales":
        return "/queues/sales"
    return "/queues/cs"


def _date_filters(lang: str):  # type: ignore[no-untyped-def]
    zone = ZONES[lang]

    def _parse(value: Any) -> datetime | None:
        if value is None or value == "":
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return aware(value).astimezone(zone)  # type: ignore[union-attr]

    def when(value: Any, with_time: bool = True) -> str:
        parsed = _parse(value)
        return format_date(parsed, lang, with_time=with_time) if parsed else ""

    def short(value: Any) -> str:
        parsed = _parse(value)
        return format_short(parsed, lang) if parsed else ""

    def num(value: Any, digits: int | None = None) -> str:
        if value is None:
            return ""
        text = f"{value:.{digits}f}" if digits is not None else str(value)
        return to_persian_digits(text) if lang == "fa" else text

    def clock(seconds: float | None) -> str:
        if seconds is None:
            return ""
        whole = int(seconds)
        text = f"{whole // 60}:{whole % 60:02d}"
        return to_persian_digits(text) if lang == "fa" else text

    return when, short, num, clock


def render(
    request: Request,
    name: str,
    key: ApiKey | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    lang = _lang(request)
    when, short, num, clock = _date_filters(lang)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = templates.TemplateResponse(
        request,
        name,
        {
            "lang": lang,
            "dir": "rtl" if lang == "fa" else "ltr",
            "other_lang": "en" if lang == "fa" else "fa",
            "t": translator(lang),
            "when": when,
            "short": short,
            "num": num,
            "clock": clock,
            "key": key,
            "queues": [q for q in QUEUES if key and can_see_queue(key, q)],
            "here": here,
            "zone": "Asia/Tehran" if lang == "fa" else "UTC",
            **context,
        },
        status_code=status_code,
    )
    response.headers["Content-Type"] = "text/html; charset=utf-8"
    response.headers["Cache-Control"] = "no-store"
    return response


def _reader(request: Request, session: Session, settings: Any, what: str) -> ApiKey | Response:
    """The signed-in admin, csm or sales key; else the sign-in redirect or a 403 page."""
    key = _signed_in(request, session, settings)
    if key is None:
        return _to_login(request)
    if key.role not in ("admin", "csm", "sales"):
        return _error_page(
            request, key, HamsuError(ErrorCode.FORBIDDEN, f"role {key.role!r} may not {what}")
        )
    return key


def _error_page(request: Request, key: ApiKey | None, exc: HamsuError) -> HTMLResponse:
    return render(
        request, "error.html", key, status_code=exc.http_status, message=exc.message, error=exc
    )


# ---------------------------------------------------------------------------------------------
# sign in and out, language


@router.get("/login")
def login_page(request: Request, next: str | None = None, failed: bool = False) -> Response:
    return render(request, "login.html", None, next=_safe_next(next), failed=failed)


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
            request, "login.html", None, status_code=401, next=_safe_next(next), failed=True
        )
    target = _safe_next(next)
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
    response = RedirectResponse(_safe_next(next), status_code=303)
    if lang in LANGS:
        response.set_cookie(
            LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax", path="/", httponly=False
        )
    return response


@router.get("/")
def home(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    key = _signed_in(request, session, settings)
    if key is None:
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse(_home(key), status_code=303)


@router.get("/upload")
def upload_page(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    key = _signed_in(request, session, settings)
    if key is None:
        return _to_login(request)
    return render(request, "uploader.html", key)


# ---------------------------------------------------------------------------------------------
# inbox


@router.get("/queues/{queue}")
def inbox(
    request: Request,
    queue: str,
    session: SessionDep,
    settings: SettingsDep,
    status: str = "active",
    priority: str = "",
    kind: str = "",
    overdue: str = "",
) -> Response:
    key = _signed_in(request, session, settings)
    if key is None:
        return _to_login(request)
    filters = {
        "status": status if status in STATUS_FILTERS else "active",
        "priority": priority if priority in PRIORITIES else "",
        "kind": kind if kind in KINDS else "",
        "overdue": overdue if overdue in ("yes", "no") else "",
    }
    try:
        page = list_queue_items(
            session=session,
            key=key,
            queue=queue,
            status=None if filters["status"] == "active" else filters["status"],
            priority=filters["priority"] or None,  # type: ignore[arg-type]
            kind=filters["kind"] or None,  # type: ignore[arg-type]
            overdue={"yes": True, "no": False}.get(filters["overdue"]),
            sort="priority",
            limit=200,
            cursor=None,
        )
    except HamsuError as exc:
        return _error_page(request, key, exc)
    return render(
        request,
        "inbox.html",
        key,
        queue=queue,
        page=page,
        filters=filters,
        statuses=STATUS_FILTERS,
        priorities=PRIORITIES,
        kinds=KINDS,
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


def _items_of_conversation(session: Session, key: ApiKey, conversation_id: str) -> list[QueueItem]:
    query = (
        select(QueueItem)
        .join(QueueItemInsight, col(QueueItemInsight.item_id) == col(QueueItem.id))
        .join(Insight, col(Insight.id) == col(QueueItemInsight.insight_id))
        .where(Insight.conversation_id == conversation_id)
        .distinct()
        .order_by(col(QueueItem.id))
    )
    if key.role != "admin":
        query = query.where(col(QueueItem.queue).in_(QUEUE_ACCESS.get(key.role, frozenset())))
    return list(session.exec(query).all())


@router.get("/conversations/{conversation_id}")
def conversation_page(
    request: Request,
    conversation_id: str,
    session: SessionDep,
    settings: SettingsDep,
    item: int | None = None,
    flash: str = "",
) -> Response:
    key = _signed_in(request, session, settings)
    if key is None:
        return _to_login(request)
    try:
        conversation = get_readable(session, key, conversation_id)
    except HamsuError as exc:
        return _error_page(request, key, exc)
    view = conversation_view(session, conversation)
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
                "review": workflow.review_brief(review),
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
    for row_item in _items_of_conversation(session, key, conversation_id):
        events = workflow.history(session, row_item.id)  # type: ignore[arg-type]
        due = aware(row_item.due_at)
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
                "overdue": bool(
                    due and row_item.status in QueueItemStatus.ACTIVE and due < datetime.now(UTC)
                ),
                "history": events,
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
        review_kinds=workflow.REVIEW_KINDS,
        categories=workflow.COMPLAINT_CATEGORIES,
        audio_url=f"/v1/conversations/{conversation_id}/audio"
        if view["channel"] == "call"
        else None,
        hold_below=settings.nlp.hold_below_confidence,
    )


@router.get("/listen")
def listen_page(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Calls whose insights are held until someone listens (the to-listen list)."""
    key = _reader(request, session, settings, "see the to-listen list")
    if isinstance(key, Response):
        return key
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


def _back(conversation_id: str, item: int | None, flash: str) -> RedirectResponse:
    query = {"flash": flash} | ({"item": str(item)} if item else {})
    return RedirectResponse(f"/conversations/{conversation_id}?{urlencode(query)}", status_code=303)


@router.post("/ui/insights/{insight_id}/review")
def review_action(
    request: Request,
    insight_id: int,
    session: SessionDep,
    settings: SettingsDep,
    verdict: Annotated[str, Form()],
    conversation_id: Annotated[str, Form()],
    item: Annotated[int | None, Form()] = None,
    corrected_kind: Annotated[str, Form()] = "",
    corrected_category: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
) -> Response:
    key = _signed_in(request, session, settings)
    if key is None:
        return _to_login(request)
    try:
        body = ReviewCreate(
            verdict=verdict,  # type: ignore[arg-type]
            corrected_kind=corrected_kind or None,  # type: ignore[arg-type]
            corrected_category=corrected_category or None,  # type: ignore[arg-type]
            note=note.strip() or None,
        )
        create_review(insight_id, body, session, settings, key)
    except HamsuError as exc:
        session.rollback()
        return _error_page(request, key, exc)
    except ValueError as exc:  # the request model refused a value
        return _error_page(request, key, HamsuError(ErrorCode.INVALID_OPTION, str(exc)))
    return _back(conversation_id, item, "reviewed")


@router.post("/ui/items/{item_id}/{action}")
def item_action(
    request: Request,
    item_id: int,
    action: str,
    session: SessionDep,
    settings: SettingsDep,
    conversation_id: Annotated[str, Form()],
    note: Annotated[str, Form()] = "",
    outcome: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    key = _signed_in(request, session, settings)
    if key is None:
        return _to_login(request)
    note_or_none = note.strip() or None
    try:
        if action == "claim":
            claim_queue_item(item_id, session, key, ClaimRequest())
        elif action == "release":
            release_queue_item(item_id, session, key, ReleaseRequest(note=note_or_none))
        elif action == "resolve":
            resolve_queue_item(
                item_id,
                session,
                key,
                ResolveRequest(note=note_or_none, outcome=outcome.strip() or None),
            )
        elif action == "dismiss":
            dismiss_queue_item(item_id, session, key, DismissRequest(reason=reason.strip() or "-"))
        else:
            return Response(status_code=404)
    except HamsuError as exc:
        session.rollback()
        return _error_page(request, key, exc)
    except ValueError as exc:  # the request model refused a value (too long...)
        return _error_page(request, key, HamsuError(ErrorCode.INVALID_OPTION, str(exc)))
    return _back(conversation_id, item_id, action)


# ---------------------------------------------------------------------------------------------
# account and dashboard


def chart_points(
    values: list[tuple[str, float]],
    *,
    low: float,
    high: float,
    width: int = 600,
    height: int = 180,
) -> dict[str, Any]:
    """Coordinates of a line chart in an SVG viewBox of width × height (with a margin)."""
    margin = 24
    n = len(values)
    span = (high - low) or 1.0
    points = []
    for i, (label, value) in enumerate(values):
        x = margin + (width - 2 * margin) * (i / (n - 1) if n > 1 else 0.5)
        y = margin + (height - 2 * margin) * (1 - (value - low) / span)
        points.append({"x": round(x, 1), "y": round(y, 1), "label": label, "value": value})
    zero = margin + (height - 2 * margin) * (1 - (0 - low) / span) if low < 0 < high else None
    return {
        "width": width,
        "height": height,
        "points": points,
        "path": " ".join(f"{p['x']},{p['y']}" for p in points),
        "zero": round(zero, 1) if zero is not None else None,
    }


@router.get("/accounts/{account_id}")
def account_page(
    request: Request, account_id: str, session: SessionDep, settings: SettingsDep
) -> Response:
    key = _signed_in(request, session, settings)
    if key is None:
        return _to_login(request)
    try:
        if key.role not in ("admin", "csm", "sales"):
            raise HamsuError(ErrorCode.FORBIDDEN, f"role {key.role!r} may not read accounts")
        account = get_account(account_id, session, key, timeline_limit=100)
    except HamsuError as exc:
        return _error_page(request, key, exc)
    trend = account["sentiment_trend"]
    when, short, num, clock = _date_filters(_lang(request))
    chart = chart_points(
        [(short(p["at"]), p["polarity"]) for p in trend["points"]], low=-1.0, high=1.0
    )
    return render(request, "account.html", key, account=account, trend=trend, chart=chart)


def _week(value: datetime) -> datetime:
    day = aware(value).date()  # type: ignore[union-attr]
    # weeks start on Saturday in Iran; on Monday in ISO. One start for both languages: Saturday
    start = day - timedelta(days=(day.weekday() - 5) % 7)
    return datetime(start.year, start.month, start.day, tzinfo=UTC)


def dashboard_data(session: Session, key: ApiKey) -> dict[str, Any]:
    """What the dashboard shows, limited to the caller's queues (everything for admins)."""
    queues = None if key.role == "admin" else QUEUE_ACCESS.get(key.role, frozenset())
    item_insights = (
        select(Insight, QueueItem)
        .join(QueueItemInsight, col(QueueItemInsight.insight_id) == col(Insight.id))
        .join(QueueItem, col(QueueItem.id) == col(QueueItemInsight.item_id))
    )
    if queues is not None:
        item_insights = item_insights.where(col(QueueItem.queue).in_(queues))
    pairs = session.exec(item_insights).all()
    # conversations: every one for admins; those behind the caller's items otherwise
    if queues is None:
        conversations = session.exec(select(Conversation)).all()
    else:
        ids = {insight.conversation_id for insight, _ in pairs}
        conversations = (
            session.exec(select(Conversation).where(col(Conversation.id).in_(ids))).all()
            if ids
            else []
        )
    weekly: dict[datetime, list[float]] = defaultdict(list)
    for conv in conversations:
        overall = ((conv.details or {}).get("sentiment") or {}).get("customer", {}) or {}
        overall = overall.get("overall")
        if isinstance(overall, dict) and "polarity" in overall:
            weekly[_week(conv.created_at)].append(float(overall["polarity"]))
    sentiment = [
        (week, sum(values) / len(values), len(values)) for week, values in sorted(weekly.items())
    ]
    seen: set[int] = set()
    categories: Counter[str] = Counter()
    unmet: dict[tuple[str, str], list[Insight]] = defaultdict(list)
    leads: Counter[datetime] = Counter()
    lead_items: set[int] = set()
    for insight, item in pairs:
        if item.kind == "upsell" and item.id not in lead_items:
            lead_items.add(item.id)  # type: ignore[arg-type]
            leads[_week(item.created_at)] += 1
        if insight.id in seen:
            continue
        seen.add(insight.id)  # type: ignore[arg-type]
        if insight.kind == "complaint":
            categories[insight.category or "none"] += 1
        elif insight.kind == "unmet_expectation":
            account = account_name(session, item.account_id) or "-"
            unmet[(account, item.channel)].append(insight)
    return {
        "sentiment": sentiment,
        "categories": categories.most_common(8),
        "unmet": sorted(unmet.items(), key=lambda kv: (-len(kv[1]), kv[0])),
        "leads": sorted(leads.items()),
    }


@router.get("/dashboard")
def dashboard(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    key = _reader(request, session, settings, "see the dashboard")
    if isinstance(key, Response):
        return key
    data = dashboard_data(session, key)
    when, short, num, clock = _date_filters(_lang(request))
    chart = chart_points(
        [(short(week), mean) for week, mean, _ in data["sentiment"]], low=-1.0, high=1.0
    )
    top = max([n for _, n in data["categories"]] + [n for _, n in data["leads"]] + [1])
    return render(request, "dashboard.html", key, data=data, chart=chart, top=top)

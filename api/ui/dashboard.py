"""The desk's account page and dashboard: what customers said over time, limited to the caller's
queues (everything for admins)."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from api.account_views import account_detail
from api.auth import QUEUE_ACCESS
from api.deps import SessionDep
from api.ui.desk import DeskRoute, DeskUser, date_filters, page_lang, render
from api.views import account_name
from core.labels import InsightKind
from models.tables import ApiKey, Conversation, Insight, QueueItem, QueueItemInsight, aware

router = APIRouter(include_in_schema=False, route_class=DeskRoute)


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
def account_page(request: Request, account_id: str, session: SessionDep, key: DeskUser) -> Response:
    account = account_detail(session, ref=account_id, key=key, timeline_limit=100)
    trend = account["sentiment_trend"]
    when, short, num, clock = date_filters(page_lang(request))
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
        if item.kind == InsightKind.UPSELL and item.id not in lead_items:
            lead_items.add(item.id)  # type: ignore[arg-type]
            leads[_week(item.created_at)] += 1
        if insight.id in seen:
            continue
        seen.add(insight.id)  # type: ignore[arg-type]
        if insight.kind == InsightKind.COMPLAINT:
            categories[insight.category or "none"] += 1
        elif insight.kind == InsightKind.UNMET_EXPECTATION:
            account = account_name(session, item.account_id) or "-"
            unmet[(account, item.channel)].append(insight)
    return {
        "sentiment": sentiment,
        "categories": categories.most_common(8),
        "unmet": sorted(unmet.items(), key=lambda kv: (-len(kv[1]), kv[0])),
        "leads": sorted(leads.items()),
    }


@router.get("/dashboard")
def dashboard(request: Request, session: SessionDep, key: DeskUser) -> Response:
    data = dashboard_data(session, key)
    when, short, num, clock = date_filters(page_lang(request))
    chart = chart_points(
        [(short(week), mean) for week, mean, _ in data["sentiment"]], low=-1.0, high=1.0
    )
    top = max([n for _, n in data["categories"]] + [n for _, n in data["leads"]] + [1])
    return render(request, "dashboard.html", key, data=data, chart=chart, top=top)

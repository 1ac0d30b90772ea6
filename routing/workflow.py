"""The life of a queue item, and what a reviewer's verdict on an insight does (no web code here).

Queue items move open → claimed → resolved | dismissed; release puts a claimed item back to open.
Resolve and dismiss work from open or claimed, by anyone allowed to see the queue (the history
records who, and whose claim it was). Every change is compare-and-set on the row (status and
assignee as read), so two people claiming at once get one claim and one CONFLICT, and every
change writes a `QueueItemEvent`: the item's history.

Events (shapes in `routing.payloads`): resolving emits `queue_item.resolved` (the item and its
`resolution`); dismissing, automatic dismissal, claims, releases and notes emit nothing (only
`queue_item.created`, `queue_item.resolved` and `insight.reviewed` exist). A review emits
`insight.reviewed`.

Reviews: the latest review of an insight counts. Its *effective kind* is the original kind after
confirm (or a correction of category / sentiment only), nothing after reject or a correction to
"none", and K after a correction to another kind K. An insight holds an item open only while its
effective kind is the item's kind; when no insight of an open or claimed item does, the item is
dismissed by "hamsu" (action "auto_dismissed"). A correction to another kind K is routed with the
rules like a new insight of kind K (a transient copy with score 1.0: a person vouched for it, so
it gets the urgency the rules give to certain evidence); it attaches to the open K item of the
account or opens one, unless the insight already sits in an item of that queue and kind. A later
review never reopens an item that was closed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select, update

from core.errors import ErrorCode, HamsuError
from core.labels import (
    COMPLAINT_CATEGORIES,
    NO_KIND,
    REVIEW_KINDS,
    SENTIMENTS,
    VERDICTS,
    InsightKind,
    Verdict,
)
from models.tables import (
    Conversation,
    Insight,
    QueueItem,
    QueueItemEvent,
    QueueItemInsight,
    QueueItemStatus,
    Review,
    utcnow,
)
from routing.engine import RuleSet
from routing.events import emit
from routing.payloads import (
    InsightReviewedPayload,
    Resolution,
    ResolvedItemPayload,
    insight_payload,
    item_payload,
    review_payload,
)
from routing.queue import SYSTEM_ACTOR, context_for, route_insights

# the score a rerouted, reviewer-corrected insight is routed with
CORRECTED_SCORE = 1.0


@dataclass(frozen=True)
class Actor:
    """Who acts: the API key's name, and whether it may override another person's claim."""

    name: str
    is_admin: bool = False


# ---------------------------------------------------------------------------------------------
# queue items


def history(session: Session, item_id: int) -> list[QueueItemEvent]:
    return list(
        session.exec(
            select(QueueItemEvent)
            .where(QueueItemEvent.item_id == item_id)
            .order_by(col(QueueItemEvent.at), col(QueueItemEvent.id))
        ).all()
    )


def _record(
    session: Session,
    item: QueueItem,
    actor: str,
    action: str,
    *,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> QueueItemEvent:
    event = QueueItemEvent(
        item_id=item.id,  # type: ignore[arg-type]
        actor=actor,
        action=action,
        note=note,
        data=data or {},
    )
    session.add(event)
    return event


def _conflict(message: str, item: QueueItem) -> HamsuError:
    return HamsuError(ErrorCode.CONFLICT, message).with_details(
        item_id=item.id, status=item.status, assignee=item.assignee
    )


def _closed_conflict(item: QueueItem, what: str) -> HamsuError:
    return _conflict(f"queue item {item.id} is {item.status}; it cannot be {what}", item)


def _set_state(session: Session, item: QueueItem, *, status: str, assignee: str | None) -> None:
    """Compare-and-set: change the row only if nobody changed status or assignee since we read
    them; otherwise CONFLICT."""
    now = utcnow()
    expected_assignee = (
        col(QueueItem.assignee).is_(None)
        if item.assignee is None
        else col(QueueItem.assignee) == item.assignee
    )
    result = session.exec(
        update(QueueItem)
        .where(col(QueueItem.id) == item.id)
        .where(col(QueueItem.status) == item.status)
        .where(expected_assignee)
        .values(
            status=status,
            assignee=assignee,
            updated_at=now,
            closed_at=None if status in QueueItemStatus.ACTIVE else now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.rollback()
        raise HamsuError(
            ErrorCode.CONFLICT,
            f"queue item {item.id} was changed by someone else meanwhile; read it again",
        ).with_details(item_id=item.id)
    session.refresh(item)


def _check_claim(item: QueueItem, actor: Actor, force: bool, verb: str) -> None:
    """A claim held by someone else blocks `verb` unless an admin forces it."""
    if item.status != QueueItemStatus.CLAIMED or item.assignee == actor.name:
        return
    if force and not actor.is_admin:
        raise HamsuError(ErrorCode.FORBIDDEN, "only an admin may use force")
    if not force:
        raise _conflict(
            f"queue item {item.id} is claimed by {item.assignee!r}; "
            f"an admin can {verb} it with force=true",
            item,
        )


def claim(session: Session, item: QueueItem, actor: Actor, *, force: bool = False) -> QueueItem:
    """open → claimed by `actor`. Claiming an item one already holds changes nothing."""
    if item.status not in QueueItemStatus.ACTIVE:
        raise _closed_conflict(item, "claimed")
    if item.status == QueueItemStatus.CLAIMED and item.assignee == actor.name:
        return item
    _check_claim(item, actor, force, "take")
    previous = item.assignee
    _set_state(session, item, status=QueueItemStatus.CLAIMED, assignee=actor.name)
    data: dict[str, Any] = {"assignee": actor.name}
    if previous:
        data |= {"previous_assignee": previous, "forced": True}
    _record(session, item, actor.name, "claimed", data=data)
    return item


def release(
    session: Session,
    item: QueueItem,
    actor: Actor,
    *,
    force: bool = False,
    note: str | None = None,
) -> QueueItem:
    """claimed → open, by the assignee (or an admin with force)."""
    if item.status not in QueueItemStatus.ACTIVE:
        raise _closed_conflict(item, "released")
    if item.status == QueueItemStatus.OPEN:
        raise _conflict(f"queue item {item.id} is not claimed", item)
    _check_claim(item, actor, force, "release")
    previous = item.assignee
    _set_state(session, item, status=QueueItemStatus.OPEN, assignee=None)
    data: dict[str, Any] = {"previous_assignee": previous}
    if previous != actor.name:
        data["forced"] = True
    _record(session, item, actor.name, "released", note=note, data=data)
    return item


def resolve(
    session: Session,
    item: QueueItem,
    actor: Actor,
    *,
    note: str | None = None,
    outcome: str | None = None,
) -> QueueItem:
    """open | claimed → resolved; emits `queue_item.resolved`."""
    if item.status not in QueueItemStatus.ACTIVE:
        raise _closed_conflict(item, "resolved")
    previous = item.assignee
    _set_state(session, item, status=QueueItemStatus.RESOLVED, assignee=previous)
    event = _record(
        session,
        item,
        actor.name,
        "resolved",
        note=note,
        data={"outcome": outcome, "assignee": previous},
    )
    session.flush()
    resolution = Resolution(
        resolved_by=actor.name, resolved_at=event.at.isoformat(), outcome=outcome, note=note
    )
    payload = ResolvedItemPayload(**item_payload(session, item).model_dump(), resolution=resolution)
    emit(session, "queue_item.resolved", payload)
    return item


def dismiss(session: Session, item: QueueItem, actor: Actor, *, reason: str) -> QueueItem:
    """open | claimed → dismissed (nothing to do); no webhook event."""
    if item.status not in QueueItemStatus.ACTIVE:
        raise _closed_conflict(item, "dismissed")
    previous = item.assignee
    _set_state(session, item, status=QueueItemStatus.DISMISSED, assignee=previous)
    _record(
        session,
        item,
        actor.name,
        "dismissed",
        note=reason,
        data={"reason": reason, "assignee": previous},
    )
    return item


def add_note(session: Session, item: QueueItem, actor: Actor, text: str) -> QueueItemEvent:
    """A note, in any state."""
    item.updated_at = utcnow()
    session.add(item)
    return _record(session, item, actor.name, "noted", note=text)


# ---------------------------------------------------------------------------------------------
# reviews


def effective_kind(insight: Insight, review: Review | None) -> str | None:
    """The insight's kind after its latest review; None = not an insight of any kind."""
    if review is None or review.verdict == Verdict.CONFIRM:
        return insight.kind
    if review.verdict == Verdict.REJECT:
        return None
    if review.corrected_kind is None:
        return insight.kind
    return None if review.corrected_kind == NO_KIND else review.corrected_kind


def latest_reviews(session: Session, insight_ids: Iterable[int]) -> dict[int, Review]:
    """insight id → its latest review, for those that have one."""
    ids = list(insight_ids)
    latest: dict[int, Review] = {}
    if not ids:
        return latest
    rows = session.exec(
        select(Review)
        .where(col(Review.insight_id).in_(ids))
        .order_by(col(Review.created_at), col(Review.id))
    ).all()
    for row in rows:
        latest[row.insight_id] = row
    return latest


def items_of(session: Session, insight_id: int) -> list[QueueItem]:
    return list(
        session.exec(
            select(QueueItem)
            .join(QueueItemInsight, col(QueueItemInsight.item_id) == col(QueueItem.id))
            .where(QueueItemInsight.insight_id == insight_id)
            .order_by(col(QueueItem.id))
        ).all()
    )


def _insights_of(session: Session, item: QueueItem) -> list[Insight]:
    return list(
        session.exec(
            select(Insight)
            .join(QueueItemInsight, col(QueueItemInsight.insight_id) == col(Insight.id))
            .where(QueueItemInsight.item_id == item.id)
        ).all()
    )


def _validate_review(
    insight: Insight,
    verdict: str,
    corrected_kind: str | None,
    corrected_category: str | None,
    corrected_sentiment: str | None,
) -> None:
    def bad(message: str) -> HamsuError:
        return HamsuError(ErrorCode.INVALID_OPTION, message)

    corrections = (corrected_kind, corrected_category, corrected_sentiment)
    if verdict not in VERDICTS:
        raise bad(f"verdict must be one of {', '.join(VERDICTS)}; got {verdict!r}")
    if verdict != Verdict.CORRECT and any(c is not None for c in corrections):
        raise bad("corrected_kind, corrected_category and corrected_sentiment need verdict correct")
    if verdict == Verdict.CORRECT and all(c is None for c in corrections):
        raise bad(
            "verdict correct needs at least one of corrected_kind, corrected_category, "
            "corrected_sentiment"
        )
    if corrected_kind is not None and corrected_kind not in REVIEW_KINDS:
        raise bad(f"corrected_kind must be one of {', '.join(REVIEW_KINDS)}")
    if corrected_sentiment is not None and corrected_sentiment not in SENTIMENTS:
        raise bad(f"corrected_sentiment must be one of {', '.join(SENTIMENTS)}")
    if corrected_category is not None:
        if corrected_category not in COMPLAINT_CATEGORIES:
            raise bad(f"corrected_category must be one of {', '.join(COMPLAINT_CATEGORIES)}")
        kind = corrected_kind or insight.kind
        if kind != InsightKind.COMPLAINT:
            raise bad(
                f"corrected_category is a complaint category; this insight would be {kind!r} "
                "after the review (set corrected_kind to complaint to make it one)"
            )


@dataclass
class ReviewOutcome:
    review: Review
    effective_kind: str | None
    # every item holding the insight after the review (rerouted ones included)
    queue_items: list[int] = field(default_factory=list)
    auto_dismissed: list[int] = field(default_factory=list)
    rerouted_to: list[int] = field(default_factory=list)


def _reroute(
    session: Session, insight: Insight, kind: str, category: str | None, rules: RuleSet
) -> list[int]:
    """Route a transient copy of the insight as kind `kind`; returns the items it landed in."""
    conversation = session.get(Conversation, insight.conversation_id)
    if conversation is None:
        return []
    # a person chose the kind: a correction is never held for listening again
    copy = Insight(
        **(insight.model_dump() | {"kind": kind, "category": category, "needs_listening": False})
    )
    copy.score = CORRECTED_SCORE
    decision = rules.decide(copy.model_dump(), context_for(session, conversation))
    if decision is None:
        return []
    already = session.exec(
        select(QueueItem.id)
        .join(QueueItemInsight, col(QueueItemInsight.item_id) == col(QueueItem.id))
        .where(QueueItemInsight.insight_id == insight.id)
        .where(QueueItem.queue == decision.queue, QueueItem.kind == decision.kind)
    ).first()
    if already is not None:
        return []
    return [item.id for item in route_insights(session, conversation, [copy], rules)]  # type: ignore[misc]


def review_insight(
    session: Session,
    insight: Insight,
    reviewer: str,
    verdict: str,
    *,
    corrected_kind: str | None = None,
    corrected_category: str | None = None,
    corrected_sentiment: str | None = None,
    note: str | None = None,
    rules: RuleSet | None = None,
) -> ReviewOutcome:
    """Store a review and apply it: reroute a kind correction (when `rules` are given), dismiss
    items nothing holds open any more, emit `insight.reviewed`. The caller commits."""
    _validate_review(insight, verdict, corrected_kind, corrected_category, corrected_sentiment)
    review = Review(
        insight_id=insight.id,  # type: ignore[arg-type]
        reviewer=reviewer,
        verdict=verdict,
        corrected_kind=corrected_kind,
        corrected_category=corrected_category,
        corrected_sentiment=corrected_sentiment,
        note=note,
    )
    session.add(review)
    session.flush()
    kind = effective_kind(insight, review)
    outcome = ReviewOutcome(review=review, effective_kind=kind)
    if rules is not None and kind is not None and kind != insight.kind:
        original = insight.category if kind == InsightKind.COMPLAINT else None
        category = corrected_category or original
        outcome.rerouted_to = _reroute(session, insight, kind, category, rules)
    if rules is not None and kind == insight.kind and _held_unrouted(session, insight):
        # the reviewer listened and kept the kind: the held insight becomes work as usual
        conversation = session.get(Conversation, insight.conversation_id)
        if conversation is not None:
            route_insights(session, conversation, [insight], rules, listened=True)
    items = items_of(session, insight.id)  # type: ignore[arg-type]
    for item in items:
        if item.id in outcome.rerouted_to:
            continue
        _record(
            session,
            item,
            reviewer,
            "reviewed",
            note=note,
            data={
                "insight_id": insight.id,
                "review_id": review.id,
                "verdict": verdict,
                "corrected_kind": corrected_kind,
                "rerouted_to": outcome.rerouted_to,
            },
        )
        if item.status in QueueItemStatus.ACTIVE and not _held_open(session, item):
            _auto_dismiss(session, item, review)
            outcome.auto_dismissed.append(item.id)  # type: ignore[arg-type]
    outcome.queue_items = [item.id for item in items]  # type: ignore[misc]
    emit(
        session,
        "insight.reviewed",
        InsightReviewedPayload(
            insight=insight_payload(insight),
            review=review_payload(review),
            queue_items=outcome.queue_items,
        ),
    )
    return outcome


def _held_unrouted(session: Session, insight: Insight) -> bool:
    """Held for listening and in no queue item yet (this review is the first verdict)."""
    return insight.needs_listening and not items_of(session, insight.id)  # type: ignore[arg-type]


def _held_open(session: Session, item: QueueItem) -> bool:
    insights = _insights_of(session, item)
    latest = latest_reviews(session, (i.id for i in insights))  # type: ignore[misc]
    return any(effective_kind(i, latest.get(i.id)) == item.kind for i in insights)  # type: ignore[arg-type]


def _auto_dismiss(session: Session, item: QueueItem, review: Review) -> None:
    reason = (
        f"every insight of this {item.kind} item was rejected or corrected to another kind "
        "by review"
    )
    previous = item.assignee
    _set_state(session, item, status=QueueItemStatus.DISMISSED, assignee=previous)
    _record(
        session,
        item,
        SYSTEM_ACTOR,
        "auto_dismissed",
        note=reason,
        data={"reason": reason, "review_id": review.id, "assignee": previous},
    )


# ---------------------------------------------------------------------------------------------
# training export


def training_row(insight: Insight, review: Review, lang: str = "") -> dict[str, Any]:
    """One line of `GET /v1/reviews/export`, in the shape `training.datasets.review_examples`
    reads: labels = the kinds that are true after the review, tasks = the kinds the row says
    something about (the original kind, and the corrected one)."""
    kind = effective_kind(insight, review)
    labels = [kind] if kind else []
    tasks = [insight.kind] + ([kind] if kind and kind != insight.kind else [])
    category = None
    if kind == InsightKind.COMPLAINT:
        original = insight.category if insight.kind == InsightKind.COMPLAINT else None
        category = review.corrected_category or original
    return {
        "text": insight.quote,
        "lang": insight.language or lang,
        "labels": labels,
        "tasks": tasks,
        "sentiment": review.corrected_sentiment,
        "category": category,
        "id": f"review-{review.id}",
        "insight_id": insight.id,
        "conversation_id": insight.conversation_id,
        "kind": insight.kind,
        "verdict": review.verdict,
        "corrected_kind": review.corrected_kind,
        "reviewer": review.reviewer,
        "created_at": review.created_at.isoformat(),
    }


def export_rows(session: Session) -> Iterator[dict[str, Any]]:
    """The latest review of every reviewed insight, oldest insight first."""
    reviewed = session.exec(select(Review.insight_id).distinct()).all()
    latest = latest_reviews(session, reviewed)
    insights = session.exec(
        select(Insight, Conversation.language)
        .join(Conversation, col(Conversation.id) == col(Insight.conversation_id))
        .where(col(Insight.id).in_(list(latest)))
        .order_by(col(Insight.id))
    ).all()
    for insight, lang in insights:
        yield training_row(insight, latest[insight.id], lang)  # type: ignore[index]

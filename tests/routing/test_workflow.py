"""The queue item state machine and review effects, on a real SQLite database (no models)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, col, select

from core.errors import ErrorCode, HamsuError
from models.db import get_engine
from models.tables import (
    Account,
    Conversation,
    Insight,
    QueueItem,
    QueueItemInsight,
    Review,
    WebhookDelivery,
    WebhookSubscription,
)
from routing import workflow
from routing.engine import load_rules
from routing.queue import route_insights
from routing.workflow import Actor
from tests.databases import database_url

RULES = load_rules()
ANA = Actor("ana")
BOB = Actor("bob")
ADMIN = Actor("root", is_admin=True)


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    return get_engine(database_url(tmp_path))


@pytest.fixture
def session(engine) -> Iterator[Session]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        s.add(WebhookSubscription(url="https://crm.example/hook", events=[], secret="s"))
        s.commit()
        yield s


def conversation(session: Session, *insights: tuple[str, float], account: str = "Acme"):
    """A routed conversation with one insight per (kind, score); returns (conv, insights)."""
    acc = session.exec(select(Account).where(Account.name == account)).first()
    if acc is None:
        acc = Account(name=account)
        session.add(acc)
        session.flush()
    conv = Conversation(
        account_id=acc.id,
        filename="c.json",
        sha256=f"{account}-{len(session.exec(select(Conversation)).all())}",
        size_bytes=1,
        storage_path="x",
        channel="chat",
        language="en",
    )
    session.add(conv)
    session.flush()
    rows = []
    for n, (kind, score) in enumerate(insights):
        row = Insight(
            conversation_id=conv.id,
            index=n,
            kind=kind,
            score=score,
            turn=n,
            speaker="customer",
            quote=f"{kind} sentence {n}",
            span_start=0,
            span_end=10,
            detector=f"hamsu.{kind}.v1",
            language="en",
            category="billing" if kind == "complaint" else None,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    route_insights(session, conv, rows, RULES)
    session.commit()
    return conv, rows


def item_of(session: Session, insight: Insight) -> QueueItem:
    items = workflow.items_of(session, insight.id)  # type: ignore[arg-type]
    assert len(items) == 1
    return items[0]


def actions(session: Session, item: QueueItem) -> list[tuple[str, str]]:
    return [(e.actor, e.action) for e in workflow.history(session, item.id)]  # type: ignore[arg-type]


def subscribe(session: Session, *names: str) -> None:
    sub = session.exec(select(WebhookSubscription)).one()
    sub.events = list(names)
    session.add(sub)
    session.commit()


def test_claim_release_resolve(session):
    subscribe(session, "queue_item.resolved")
    _, (churn,) = conversation(session, ("churn_risk", 0.9))
    item = item_of(session, churn)
    assert item.status == "open" and item.queue == "cs"

    workflow.claim(session, item, ANA)
    session.commit()
    assert (item.status, item.assignee) == ("claimed", "ana")
    workflow.claim(session, item, ANA)  # again: nothing changes, no history line
    with pytest.raises(HamsuError) as taken:
        workflow.claim(session, item, BOB)
    assert taken.value.code == ErrorCode.CONFLICT and taken.value.details["assignee"] == "ana"
    with pytest.raises(HamsuError) as forced:
        workflow.claim(session, item, BOB, force=True)
    assert forced.value.code == ErrorCode.FORBIDDEN
    with pytest.raises(HamsuError) as released:
        workflow.release(session, item, BOB)
    assert released.value.code == ErrorCode.CONFLICT

    workflow.claim(session, item, ADMIN, force=True)
    session.commit()
    assert item.assignee == "root"
    workflow.release(session, item, ADMIN, note="back to the team")
    session.commit()
    assert (item.status, item.assignee) == ("open", None)
    with pytest.raises(HamsuError):
        workflow.release(session, item, ANA)  # not claimed

    workflow.add_note(session, item, BOB, "called, no answer")
    workflow.resolve(session, item, BOB, note="retained with a discount", outcome="retained")
    session.commit()
    assert item.status == "resolved" and item.closed_at is not None
    for action in (workflow.claim, workflow.resolve, workflow.release):
        with pytest.raises(HamsuError) as closed:
            action(session, item, ADMIN)  # type: ignore[operator]
        assert closed.value.code == ErrorCode.CONFLICT
    workflow.add_note(session, item, ANA, "follow-up in a month")  # notes at any time
    session.commit()
    assert actions(session, item) == [
        ("hamsu", "created"),
        ("ana", "claimed"),
        ("root", "claimed"),
        ("root", "released"),
        ("bob", "noted"),
        ("bob", "resolved"),
        ("ana", "noted"),
    ]
    history = workflow.history(session, item.id)  # type: ignore[arg-type]
    assert history[2].data == {"assignee": "root", "previous_assignee": "ana", "forced": True}
    assert history[5].data["outcome"] == "retained"
    (delivery,) = session.exec(select(WebhookDelivery)).all()
    assert delivery.event == "queue_item.resolved"
    data = delivery.payload["data"]
    assert data["id"] == item.id and data["status"] == "resolved"
    assert data["resolution"]["outcome"] == "retained"
    assert data["resolution"]["resolved_by"] == "bob"
    assert [i["id"] for i in data["insights"]] == [churn.id]


def test_dismiss_sends_no_event(session):
    subscribe(session, "queue_item.resolved", "queue_item.created", "insight.reviewed")
    _, (upsell,) = conversation(session, ("upsell", 0.7))
    before = len(session.exec(select(WebhookDelivery)).all())
    item = item_of(session, upsell)
    workflow.claim(session, item, ANA)
    workflow.dismiss(session, item, BOB, reason="existing CRM opportunity")
    session.commit()
    assert item.status == "dismissed" and item.assignee == "ana"
    assert workflow.history(session, item.id)[-1].note == "existing CRM opportunity"  # type: ignore[arg-type]
    assert len(session.exec(select(WebhookDelivery)).all()) == before
    with pytest.raises(HamsuError):
        workflow.dismiss(session, item, BOB, reason="again")


def test_a_stale_read_cannot_overwrite_a_claim(engine, session):
    _, (churn,) = conversation(session, ("churn_risk", 0.9))
    with Session(engine) as other:
        stale = other.get(QueueItem, item_of(session, churn).id)
        assert stale is not None and stale.status == "open"
        fresh = item_of(session, churn)
        workflow.claim(session, fresh, ANA)
        session.commit()
        with pytest.raises(HamsuError) as lost:
            workflow.claim(other, stale, BOB)
        assert lost.value.code == ErrorCode.CONFLICT and "meanwhile" in lost.value.message
    session.refresh(fresh)
    assert fresh.assignee == "ana"
    assert [a for _, a in actions(session, fresh)] == ["created", "claimed"]


def test_rejecting_every_insight_dismisses_the_item(session):
    subscribe(session, "insight.reviewed")
    _, (first, second, upsell) = conversation(
        session, ("complaint", 0.95), ("complaint", 0.7), ("upsell", 0.9)
    )
    item = item_of(session, first)
    assert item_of(session, second).id == item.id
    workflow.claim(session, item, ANA)
    out = workflow.review_insight(session, first, "ana", "reject", note="sarcasm", rules=RULES)
    session.commit()
    assert out.effective_kind is None and out.auto_dismissed == []
    assert item.status == "claimed"  # the second complaint still holds it open
    out = workflow.review_insight(session, second, "bob", "correct", corrected_kind="none")
    session.commit()
    assert out.auto_dismissed == [item.id] and out.queue_items == [item.id]
    session.refresh(item)
    assert item.status == "dismissed" and item.closed_at is not None
    last = workflow.history(session, item.id)[-1]  # type: ignore[arg-type]
    assert (last.actor, last.action) == ("hamsu", "auto_dismissed")
    assert last.data["review_id"] == out.review.id and "rejected" in (last.note or "")
    # a later confirmation does not reopen it, and other items are untouched
    workflow.review_insight(session, first, "ana", "confirm")
    session.commit()
    session.refresh(item)
    assert item.status == "dismissed"
    assert item_of(session, upsell).status == "open"
    deliveries = session.exec(
        select(WebhookDelivery).where(WebhookDelivery.event == "insight.reviewed")
    ).all()
    assert len(deliveries) == 3
    data = deliveries[1].payload["data"]
    assert set(data) == {"insight", "review", "queue_items"}
    assert data["insight"]["id"] == second.id and data["insight"]["quote"] == second.quote
    assert data["review"] == {
        "verdict": "correct",
        "reviewer": "bob",
        "corrected_kind": "none",
        "corrected_category": None,
        "corrected_sentiment": None,
        "note": None,
        "created_at": out.review.created_at.isoformat(),
    }
    assert data["queue_items"] == [item.id]


def test_a_kind_correction_is_routed_to_the_right_queue(session):
    _, (upsell,) = conversation(session, ("upsell", 0.7), account="Globex")
    _, (churn,) = conversation(session, ("churn_risk", 0.7), account="Globex")
    sales_item, churn_item = item_of(session, upsell), item_of(session, churn)
    assert sales_item.queue == "sales"
    out = workflow.review_insight(
        session, upsell, "sam", "correct", corrected_kind="churn_risk", rules=RULES
    )
    session.commit()
    # the account already has an open churn item: the insight attaches to it
    assert out.rerouted_to == [churn_item.id] and out.auto_dismissed == [sales_item.id]
    session.refresh(sales_item)
    assert sales_item.status == "dismissed"
    linked = session.exec(
        select(QueueItemInsight.item_id).where(QueueItemInsight.insight_id == upsell.id)
    ).all()
    assert sorted(linked) == sorted([sales_item.id, churn_item.id])
    assert actions(session, churn_item)[-1] == ("hamsu", "attached")
    # the same correction again does not attach twice
    again = workflow.review_insight(
        session, upsell, "sam", "correct", corrected_kind="churn_risk", rules=RULES
    )
    session.commit()
    assert again.rerouted_to == [] and again.auto_dismissed == []

    _, (complaint,) = conversation(session, ("complaint", 0.95), account="Initech")
    complaint_item = item_of(session, complaint)
    out = workflow.review_insight(
        session, complaint, "ana", "correct", corrected_kind="upsell", rules=RULES
    )
    session.commit()
    (new_id,) = out.rerouted_to
    new = session.get(QueueItem, new_id)
    assert new is not None and (new.queue, new.kind, new.status) == ("sales", "upsell", "open")
    assert new.priority == "high"  # routed as certain evidence
    session.refresh(complaint_item)
    assert complaint_item.status == "dismissed"


def test_category_and_sentiment_corrections_keep_the_item(session):
    _, (complaint,) = conversation(session, ("complaint", 0.95))
    item = item_of(session, complaint)
    out = workflow.review_insight(
        session,
        complaint,
        "ana",
        "correct",
        corrected_category="delivery",
        corrected_sentiment="negative",
        rules=RULES,
    )
    session.commit()
    assert out.effective_kind == "complaint" and out.rerouted_to == [] and not out.auto_dismissed
    assert item.status == "open"


@pytest.mark.parametrize(
    ("verdict", "changes", "fragment"),
    [
        ("maybe", {}, "verdict"),
        ("confirm", {"corrected_kind": "upsell"}, "need verdict correct"),
        ("correct", {}, "at least one"),
        ("correct", {"corrected_kind": "praise"}, "corrected_kind"),
        ("correct", {"corrected_sentiment": "angry"}, "corrected_sentiment"),
        ("correct", {"corrected_category": "weather"}, "corrected_category"),
        ("correct", {"corrected_kind": "upsell", "corrected_category": "billing"}, "complaint"),
    ],
)
def test_invalid_reviews_are_refused(session, verdict, changes, fragment):
    _, (complaint,) = conversation(session, ("complaint", 0.95))
    with pytest.raises(HamsuError) as bad:
        workflow.review_insight(session, complaint, "ana", verdict, **changes)
    assert bad.value.code == ErrorCode.INVALID_OPTION and fragment in bad.value.message
    session.rollback()
    assert session.exec(select(Review)).all() == []


def test_training_rows_follow_the_verdict(session):
    _, (complaint, churn) = conversation(session, ("complaint", 0.95), ("churn_risk", 0.8))

    def row(insight: Insight, verdict: str, **changes: str) -> dict:
        review = Review.model_validate(
            {"insight_id": insight.id, "reviewer": "ana", "verdict": verdict, **changes}
        )
        return workflow.training_row(insight, review)

    def short(r: dict) -> tuple:
        return r["labels"], r["tasks"], r["sentiment"], r["category"]

    assert short(row(complaint, "confirm")) == (["complaint"], ["complaint"], None, "billing")
    assert short(row(complaint, "reject")) == ([], ["complaint"], None, None)
    assert short(row(churn, "correct", corrected_kind="none")) == ([], ["churn_risk"], None, None)
    assert short(row(churn, "correct", corrected_kind="complaint")) == (
        ["complaint"],
        ["churn_risk", "complaint"],
        None,
        None,
    )
    assert short(
        row(churn, "correct", corrected_kind="complaint", corrected_category="delivery")
    ) == (["complaint"], ["churn_risk", "complaint"], None, "delivery")
    assert short(
        row(complaint, "correct", corrected_kind="upsell", corrected_sentiment="positive")
    ) == (["upsell"], ["complaint", "upsell"], "positive", None)
    assert short(row(complaint, "correct", corrected_sentiment="neutral")) == (
        ["complaint"],
        ["complaint"],
        "neutral",
        "billing",
    )
    full = row(complaint, "confirm")
    assert full["text"] == complaint.quote and full["lang"] == "en"
    assert full["insight_id"] == complaint.id and full["verdict"] == "confirm"


def test_export_keeps_the_latest_review_only(session):
    _, (complaint, churn) = conversation(session, ("complaint", 0.95), ("churn_risk", 0.8))
    workflow.review_insight(session, complaint, "ana", "reject")
    session.commit()
    workflow.review_insight(session, complaint, "bob", "confirm")
    session.commit()
    rows = list(workflow.export_rows(session))
    assert [(r["insight_id"], r["verdict"], r["reviewer"]) for r in rows] == [
        (complaint.id, "confirm", "bob")
    ]
    assert session.exec(select(col(Review.id))).all() != []
    assert churn.id not in {r["insight_id"] for r in rows}

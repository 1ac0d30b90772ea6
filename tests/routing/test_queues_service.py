"""The queue and review services both the /v1 routes and the desk call: who may see what, the
list's filters, sort and cursor pages, the one definition of overdue, and that actions commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from core.errors import ErrorCode, HamsuError
from core.labels import InsightKind, Verdict
from models.tables import QueueItem, QueueItemStatus, utcnow
from routing import queues_service as service
from routing.overdue import is_overdue, overdue_clause
from routing.queues_service import Principal
from tests.routing.test_workflow import (  # noqa: F401  (fixtures)
    RULES,
    conversation,
    engine,
    item_of,
    session,
)

ADMIN = Principal(name="root", role="admin")
CSM = Principal(name="ana", role="csm", queues=frozenset({"cs"}))
SALES = Principal(name="sam", role="sales", queues=frozenset({"sales"}))


def codes(call) -> ErrorCode:  # type: ignore[no-untyped-def]
    with pytest.raises(HamsuError) as caught:
        call()
    return caught.value.code


@pytest.fixture
def world(session: Session):  # noqa: F811
    """Three cs items (two accounts) and one sales item."""
    _, (churn, complaint) = conversation(
        session, (InsightKind.CHURN_RISK, 0.9), (InsightKind.COMPLAINT, 0.95)
    )
    _, (other,) = conversation(session, (InsightKind.CHURN_RISK, 0.5), account="Globex")
    _, (lead,) = conversation(session, (InsightKind.UPSELL, 0.9), account="Initech")
    return {
        name: item_of(session, insight)
        for name, insight in (
            ("churn", churn),
            ("complaint", complaint),
            ("other", other),
            ("lead", lead),
        )
    } | {"insights": {"churn": churn, "lead": lead}}


def test_lists_only_the_queues_a_role_works(session, world):  # noqa: F811
    page = service.list_items(session, actor=CSM, queue="cs")
    assert page.total == 3 and {i.queue for i in page.items} == {"cs"}
    assert service.list_items(session, actor=ADMIN, queue="sales").total == 1
    assert codes(lambda: service.list_items(session, actor=CSM, queue="sales")) == (
        ErrorCode.FORBIDDEN
    )


def test_filters_sort_and_cursor_pages(session, world):  # noqa: F811
    everything = service.list_items(session, actor=ADMIN, queue="cs", sort="created")
    assert [i.id for i in everything.items] == sorted(i.id for i in everything.items)
    seen, cursor = [], None
    while True:
        page = service.list_items(
            session, actor=ADMIN, queue="cs", sort="-created", limit=1, cursor=cursor
        )
        assert page.total == 3
        seen += [i.id for i in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == sorted(seen, reverse=True) and len(seen) == 3
    by_priority = service.list_items(session, actor=ADMIN, queue="cs")
    assert by_priority.items[-1].id == world["other"].id  # the only normal-priority item
    churn = service.list_items(session, actor=ADMIN, queue="cs", kind=InsightKind.CHURN_RISK)
    assert {i.id for i in churn.items} == {world["churn"].id, world["other"].id}
    service.claim(session, item_id=world["churn"].id, actor=CSM)
    mine = service.list_items(session, actor=CSM, queue="cs", assignee="me")
    assert [i.id for i in mine.items] == [world["churn"].id]
    bad = codes(lambda: service.list_items(session, actor=ADMIN, queue="cs", status="lost"))
    assert bad == ErrorCode.INVALID_OPTION
    wrong = codes(
        lambda: service.list_items(session, actor=ADMIN, queue="cs", sort="due", cursor=cursor)
    )
    assert wrong == ErrorCode.INVALID_OPTION


def test_overdue_is_one_rule_in_python_and_sql(session, world):  # noqa: F811
    now = utcnow()
    late, done = world["churn"], world["complaint"]
    for item in (late, done):
        item.due_at = now - timedelta(hours=1)
        session.add(item)
    session.commit()
    service.resolve(session, item_id=done.id, actor=CSM, note="called back")
    assert is_overdue(late) and not is_overdue(done)  # a closed item is never late
    assert not is_overdue(world["other"])  # due in the future
    assert not is_overdue(late, now - timedelta(hours=2))
    flagged = session.exec(select(QueueItem.id).where(overdue_clause())).all()
    rows = session.exec(select(QueueItem)).all()
    assert set(flagged) == {i.id for i in rows if is_overdue(i)} == {late.id}
    only = service.list_items(session, actor=CSM, queue="cs", overdue=True, status="all")
    rest = service.list_items(session, actor=CSM, queue="cs", overdue=False, status="all")
    assert [i.id for i in only.items] == [late.id]
    assert late.id not in {i.id for i in rest.items} and only.total + rest.total == 3


def test_actions_check_access_and_commit(session, engine, world):  # noqa: F811
    item = world["churn"]
    assert codes(lambda: service.get_item(session, item_id=10**9, actor=CSM)) == (
        ErrorCode.NOT_FOUND
    )
    assert codes(lambda: service.claim(session, item_id=item.id, actor=SALES)) == (
        ErrorCode.FORBIDDEN
    )
    claimed = service.claim(session, item_id=item.id, actor=CSM)
    assert claimed.status == QueueItemStatus.CLAIMED and claimed.assignee == "ana"
    other = Principal(name="bob", role="csm", queues=frozenset({"cs"}))
    assert codes(lambda: service.claim(session, item_id=item.id, actor=other)) == (
        ErrorCode.CONFLICT
    )
    assert codes(lambda: service.claim(session, item_id=item.id, actor=other, force=True)) == (
        ErrorCode.FORBIDDEN
    )  # only admins force
    service.add_note(session, item_id=item.id, actor=other, text="called, no answer")
    service.release(session, item_id=item.id, actor=ADMIN, force=True, note="back")
    service.dismiss(session, item_id=world["other"].id, actor=CSM, reason="duplicate")
    with Session(engine) as fresh:  # committed: another session sees it
        row = fresh.get(QueueItem, item.id)
        assert row is not None and row.status == QueueItemStatus.OPEN and row.assignee is None
        gone = fresh.get(QueueItem, world["other"].id)
        assert gone is not None and gone.status == QueueItemStatus.DISMISSED


def test_reviews_follow_the_queues(session, world):  # noqa: F811
    churn, lead = world["insights"]["churn"], world["insights"]["lead"]
    denied = codes(
        lambda: service.review(
            session, insight_id=churn.id, actor=SALES, verdict=Verdict.CONFIRM, rules=RULES
        )
    )
    assert denied == ErrorCode.FORBIDDEN
    assert codes(lambda: service.reviews_of(session, insight_id=10**9, actor=ADMIN)) == (
        ErrorCode.NOT_FOUND
    )
    service.review(session, insight_id=lead.id, actor=SALES, verdict=Verdict.CONFIRM)
    out = service.review(
        session, insight_id=lead.id, actor=ADMIN, verdict=Verdict.REJECT, note="a joke"
    )
    assert out.auto_dismissed == [world["lead"].id] and out.review.id is not None
    insight, reviews = service.reviews_of(session, insight_id=lead.id, actor=SALES)
    assert insight.id == lead.id and [r.reviewer for r in reviews] == ["sam", "root"]


def test_items_of_a_conversation_in_the_callers_queues(session, world):  # noqa: F811
    conversation_id = world["churn"].conversation_id
    mine = service.items_of_conversation(session, conversation_id=conversation_id, actor=CSM)
    assert [i.id for i in mine] == sorted({world["churn"].id, world["complaint"].id})
    none = service.items_of_conversation(session, conversation_id=conversation_id, actor=SALES)
    assert none == []

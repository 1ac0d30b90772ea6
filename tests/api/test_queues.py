"""Queue items over HTTP: lists, filters, sorting, cursor pages, the claim/resolve workflow and
roles, on conversations analysed by the real models (uploaded once for the module)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.main import create_app
from core.settings import Settings
from models.db import get_engine
from models.tables import QueueItem, WebhookDelivery, WebhookSubscription, utcnow
from tests.api.conftest import make_key, make_settings
from tests.api.test_conversations import drain, upload

RANK = {"high": 0, "normal": 1, "low": 2}
NO_DUE = "9999"
# one customer line per chat, each from its own account so nothing is merged
LINES = [
    "Our invoice charged us twice this month and nobody answers the billing line.",
    "If this is not fixed by Friday we will cancel our contract and move to your competitor.",
    "We need 10 more seats and want a quote for the Enterprise plan.",
    "Your sales rep promised a Salesforce integration, but it does not exist.",
    "The courier lost our parcel again, this is the third late delivery.",
    "We are cancelling at the end of the month, your service has been down all week.",
]


@dataclass
class World:
    client: TestClient
    settings: Settings
    keys: dict[str, str]

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def items(self, queue: str = "cs", who: str = "admin", **params: Any) -> dict:
        response = self.client.get(
            f"/v1/queues/{queue}/items", params=params, headers=self.as_(who)
        )
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, item_id: int, action: str, who: str, body: dict | None = None):
        return self.client.post(
            f"/v1/queue-items/{item_id}/{action}", json=body, headers=self.as_(who)
        )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("queues")
    settings = make_settings(tmp / "var")
    with TestClient(create_app(settings, start_worker=False)) as client:
        keys = {
            who: make_key(settings, role, who)
            for who, role in (
                ("admin", "admin"),
                ("ana", "csm"),
                ("bob", "csm"),
                ("sam", "sales"),
                ("ulla", "uploader"),
            )
        }
        client.headers["Authorization"] = f"Bearer {keys['admin']}"
        uploads = [
            (samples_dir / "chats" / "fa_churn.txt", "Pardakht"),
            (samples_dir / "chats" / "en_upsell.json", "BlueWave"),
            (samples_dir / "emails" / "en_unmet_promise.eml", "Harbor Goods"),
        ]
        for n, line in enumerate(LINES):
            chat = tmp / f"chat{n}.json"
            messages = [
                {"from": "agent", "text": "Hello, how can I help?"},
                {"from": "customer", "text": line},
            ]
            chat.write_text(json.dumps({"channel": "chat", "messages": messages}))
            uploads.append((chat, f"Account {n}"))
        for path, account in uploads:
            assert upload(client, path, account=account).status_code == 202
        drain(client)
        tie_keys_for_the_cursor(settings)
        yield World(client, settings, keys)


def tie_keys_for_the_cursor(settings: Settings) -> None:
    """One item without a due time (a rule without SLA), and three items whose sort keys are all
    equal but for the id, so pages must break ties on the id."""
    with Session(get_engine(settings.database_url)) as session:
        rows = session.exec(
            select(QueueItem).where(QueueItem.queue == "cs").order_by(col(QueueItem.id))
        ).all()
        rows[0].due_at = rows[0].sla_hours = None
        for row in rows[1:4]:
            row.priority, row.top_score = "normal", 0.75
            row.due_at, row.created_at = rows[1].due_at, rows[1].created_at
        session.add_all(rows)
        session.commit()


def sort_key(sort: str, item: dict) -> tuple:
    due = item["due_at"] or NO_DUE
    return {
        "priority": (RANK[item["priority"]], due, -item["top_score"], item["id"]),
        "due": (due, RANK[item["priority"]], -item["top_score"], item["id"]),
        "created": (item["created_at"], item["id"]),
    }[sort]


def test_samples_fill_both_queues(world):
    cs, sales = world.items("cs"), world.items("sales")
    assert cs["total"] >= 10 and sales["total"] >= 2
    assert {i["kind"] for i in cs["items"]} >= {"complaint", "unmet_expectation", "churn_risk"}
    assert {i["kind"] for i in sales["items"]} == {"upsell"}
    for item in cs["items"]:
        assert item["status"] in ("open", "claimed") and item["insights"]
        assert (item["due_at"] is None) == (item["sla_hours"] is None)


@pytest.mark.parametrize("sort", ["priority", "due", "created", "-created"])
def test_cursor_pages_walk_the_whole_sorted_list(world, sort):
    everything = world.items(status="all", sort=sort, limit=200)
    assert everything["next_cursor"] is None
    ids = [i["id"] for i in everything["items"]]
    assert len(ids) == everything["total"] >= 10
    if sort == "-created":
        expected = sorted(everything["items"], key=lambda i: (i["created_at"], i["id"]))[::-1]
    else:
        expected = sorted(everything["items"], key=lambda i: sort_key(sort, i))
    assert ids == [i["id"] for i in expected]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"status": "all", "sort": sort, "limit": 3}
        page = world.items(**params, **({"cursor": cursor} if cursor else {}))
        assert page["total"] == len(ids) and len(page["items"]) <= 3
        seen += [i["id"] for i in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids and pages == -(-len(ids) // 3)


def test_bad_cursors_and_options_are_refused(world):
    page = world.items(status="all", sort="due", limit=2)
    for params in (
        {"sort": "priority", "cursor": page["next_cursor"]},  # a cursor of another sort
        {"cursor": "not-a-cursor"},
        {"cursor": "eyJzIjoiZHVlIn0"},  # {"s":"due"}: no key
        {"status": "open,unknown"},
    ):
        response = world.client.get("/v1/queues/cs/items", params=params)
        assert response.status_code == 422, params  # E010 answers 422 wherever it is found
        assert response.json()["code"] == "E010_invalid_option"
    for params in ({"sort": "score"}, {"priority": "urgent"}, {"limit": 0}, {"overdue": "maybe"}):
        response = world.client.get("/v1/queues/cs/items", params=params)
        assert response.status_code == 422, params
        assert response.json()["code"] == "E010_invalid_option"


def test_filters_match_the_items_they_name(world):
    # make one open item overdue, and claim another as ana
    first, second = world.items(status="open", limit=2)["items"]
    with Session(get_engine(world.settings.database_url)) as session:
        row = session.get(QueueItem, first["id"])
        assert row is not None
        row.due_at = utcnow() - timedelta(hours=1)
        session.add(row)
        session.commit()
    assert world.post(second["id"], "claim", "ana").status_code == 200
    everything = world.items(status="all", limit=200)["items"]
    by_id = {i["id"]: i for i in everything}
    assert by_id[first["id"]]["overdue"] is True

    def ids(**params: object) -> set[int]:
        query = {"status": "all", "limit": 200} | params
        return {i["id"] for i in world.items(**query)["items"]}

    def where(test) -> set[int]:  # type: ignore[no-untyped-def]
        return {i["id"] for i in everything if test(i)}

    pardakht = next(i["account_id"] for i in everything if i["account"] == "Pardakht")
    checks = {
        "priority": ({"priority": "high"}, lambda i: i["priority"] == "high"),
        "kind": ({"kind": "complaint"}, lambda i: i["kind"] == "complaint"),
        "language": ({"language": "fa"}, lambda i: i["language"] == "fa"),
        "channel": ({"channel": "email"}, lambda i: i["channel"] == "email"),
        "account": ({"account_id": pardakht}, lambda i: i["account_id"] == pardakht),
        "overdue": ({"overdue": "true"}, lambda i: i["overdue"]),
        "not overdue": ({"overdue": "false"}, lambda i: not i["overdue"]),
        "assignee": ({"assignee": "ana"}, lambda i: i["assignee"] == "ana"),
    }
    for name, (params, test) in checks.items():
        expected = where(test)
        assert expected, f"the data has no item for the {name} filter"
        assert ids(**params) == expected, name
    assert ids(overdue="true") == {first["id"]}
    assert ids(kind="complaint", language="fa") == where(
        lambda i: i["kind"] == "complaint" and i["language"] == "fa"
    )
    mine = world.items("cs", "ana", assignee="me")["items"]
    assert [i["id"] for i in mine] == [second["id"]]
    assert world.items("cs", "bob", assignee="me")["items"] == []
    # the default shows work still to do; status picks others
    assert world.post(second["id"], "resolve", "ana").status_code == 200
    assert second["id"] not in {i["id"] for i in world.items()["items"]}
    resolved = world.items(status="resolved")["items"]
    assert second["id"] in {i["id"] for i in resolved}
    assert {i["status"] for i in resolved} == {"resolved"}
    assert ids(status="open,claimed") == {i["id"] for i in world.items(limit=200)["items"]}


def test_claim_release_resolve_dismiss_and_history(world):
    with Session(get_engine(world.settings.database_url)) as session:
        session.add(
            WebhookSubscription(
                url="https://crm.example/hook", events=["queue_item.resolved"], secret="s"
            )
        )
        session.commit()
    open_items = world.items(status="open", kind="churn_risk")["items"]
    item_id = open_items[0]["id"]
    other_id = open_items[1]["id"]

    claimed = world.post(item_id, "claim", "ana")
    assert claimed.status_code == 200
    assert (claimed.json()["status"], claimed.json()["assignee"]) == ("claimed", "ana")
    assert world.post(item_id, "claim", "ana").status_code == 200  # already hers
    taken = world.post(item_id, "claim", "bob")
    assert taken.status_code == 409
    assert taken.json()["code"] == "E014_conflict"
    assert taken.json()["details"]["assignee"] == "ana"
    assert world.post(item_id, "claim", "bob", {"force": True}).status_code == 403
    assert world.post(item_id, "claim", "admin").status_code == 409
    assert world.post(item_id, "release", "bob").status_code == 409
    forced = world.post(item_id, "claim", "admin", {"force": True})
    assert forced.status_code == 200 and forced.json()["assignee"] == "admin"
    released = world.post(item_id, "release", "admin", {"note": "back to the team"})
    assert released.json()["status"] == "open" and released.json()["assignee"] is None
    assert world.post(item_id, "release", "ana").status_code == 409  # not claimed
    assert world.post(item_id, "claim", "ana").status_code == 200

    noted = world.post(item_id, "notes", "bob", {"text": "customer prefers calls after 4 pm"})
    assert noted.status_code == 201
    assert [(n["author"], n["text"]) for n in noted.json()["notes"]] == [
        ("bob", "customer prefers calls after 4 pm")
    ]
    for body in ({"text": "   "}, {}, {"text": "x", "extra": 1}):
        assert world.post(item_id, "notes", "bob", body).status_code == 422

    resolved = world.post(item_id, "resolve", "ana", {"outcome": "retained", "note": "discount"})
    assert resolved.status_code == 200
    body = resolved.json()
    assert body["status"] == "resolved" and body["closed_at"] and body["overdue"] is False
    assert world.post(item_id, "resolve", "ana").status_code == 409
    assert world.post(item_id, "claim", "bob").status_code == 409
    assert world.post(item_id, "dismiss", "bob", {"reason": "x"}).status_code == 409
    assert world.post(item_id, "notes", "ana", {"text": "called back"}).status_code == 201

    detail = world.client.get(f"/v1/queue-items/{item_id}", headers=world.as_("bob")).json()
    history = [e for e in detail["history"] if e["action"] != "attached"]  # more evidence
    assert [(e["actor"], e["action"]) for e in history] == [
        ("hamsu", "created"),
        ("ana", "claimed"),
        ("admin", "claimed"),
        ("admin", "released"),
        ("ana", "claimed"),
        ("bob", "noted"),
        ("ana", "resolved"),
        ("ana", "noted"),
    ]
    resolution = history[6]
    assert resolution["note"] == "discount" and resolution["data"]["outcome"] == "retained"
    assert history[2]["data"]["previous_assignee"] == "ana"
    assert [n["text"] for n in detail["notes"]] == [
        "customer prefers calls after 4 pm",
        "called back",
    ]

    assert world.post(other_id, "dismiss", "bob", {"reason": "   "}).status_code == 422
    assert world.post(other_id, "dismiss", "bob").status_code == 422
    dismissed = world.post(other_id, "dismiss", "bob", {"reason": "already handled in the CRM"})
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    assert dismissed.json()["history"][-1]["note"] == "already handled in the CRM"

    with Session(get_engine(world.settings.database_url)) as session:
        deliveries = session.exec(select(WebhookDelivery)).all()
    assert [d.event for d in deliveries] == ["queue_item.resolved"]  # dismissals send nothing
    data = deliveries[0].payload["data"]
    assert data["id"] == item_id and data["status"] == "resolved"
    assert data["resolution"]["outcome"] == "retained"


def test_roles_see_only_their_queues(world):
    cs_item = world.items("cs")["items"][0]["id"]
    sales_item = world.items("sales")["items"][0]["id"]
    assert world.items("cs", "ana")["total"] >= 1
    assert world.items("sales", "sam")["total"] >= 1
    for who, queue in (("ana", "sales"), ("sam", "cs"), ("ulla", "cs"), ("ulla", "sales")):
        response = world.client.get(f"/v1/queues/{queue}/items", headers=world.as_(who))
        assert response.status_code == 403, (who, queue)
        assert response.json()["code"] == "E013_forbidden"
    for who, item in (("ana", sales_item), ("sam", cs_item), ("ulla", cs_item)):
        assert (
            world.client.get(f"/v1/queue-items/{item}", headers=world.as_(who)).status_code == 403
        )
        for action, body in (("claim", None), ("notes", {"text": "x"}), ("resolve", None)):
            assert world.post(item, action, who, body).status_code == 403, (who, action)
    assert world.client.get(f"/v1/queue-items/{sales_item}", headers=world.as_("sam")).is_success
    assert world.client.get("/v1/queue-items/999999").status_code == 404
    assert world.post(999999, "claim", "ana").status_code == 404
    anonymous = {"Authorization": ""}
    assert world.client.get("/v1/queues/cs/items", headers=anonymous).status_code == 401
    assert (
        world.client.post(f"/v1/queue-items/{cs_item}/claim", headers=anonymous).status_code == 401
    )


def test_item_detail_shows_evidence_and_history(world):
    item = world.items("sales", kind="upsell")["items"][0]
    detail = world.client.get(f"/v1/queue-items/{item['id']}").json()
    assert detail["id"] == item["id"] and detail["queue"] == "sales"
    assert detail["history"][0]["action"] == "created" and detail["history"][0]["actor"] == "hamsu"
    assert detail["insights"] and all(i["kind"] == "upsell" for i in detail["insights"])
    assert all(i["review"] is None and i["effective_kind"] == "upsell" for i in detail["insights"])
    assert detail["conversation_id"] in detail["conversation_ids"]


def test_openapi_documents_the_workflow(world):
    paths = world.client.get("/openapi.json").json()["paths"]
    for path in (
        "/v1/queues/{queue}/items",
        "/v1/queue-items/{item_id}",
        "/v1/queue-items/{item_id}/claim",
        "/v1/queue-items/{item_id}/release",
        "/v1/queue-items/{item_id}/resolve",
        "/v1/queue-items/{item_id}/dismiss",
        "/v1/queue-items/{item_id}/notes",
    ):
        for operation in paths[path].values():
            assert "403" in operation["responses"] and operation["summary"], path
    claim = paths["/v1/queue-items/{item_id}/claim"]["post"]
    assert "409" in claim["responses"]

"""Reviews over HTTP: roles, verdicts, automatic dismissal, rerouting of corrections, the
insight.reviewed event and the JSONL export that training reads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.main import create_app
from core.settings import Settings
from models.db import get_engine
from models.tables import WebhookDelivery, WebhookSubscription
from tests.api.conftest import make_key, make_settings
from tests.api.test_conversations import drain, upload
from training.datasets import review_examples


@dataclass
class World:
    client: TestClient
    settings: Settings
    keys: dict[str, str]

    def as_(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    def item(self, queue: str, kind: str, account: str) -> dict:
        items = self.client.get(
            f"/v1/queues/{queue}/items", params={"kind": kind, "status": "all"}
        ).json()["items"]
        (item,) = [i for i in items if i["account"] == account]
        return item

    def review(self, insight_id: int, who: str = "admin", **body: object):
        return self.client.post(
            f"/v1/insights/{insight_id}/reviews", json=body, headers=self.as_(who)
        )

    def deliveries(self, event: str) -> list[WebhookDelivery]:
        with Session(get_engine(self.settings.database_url)) as session:
            return list(
                session.exec(
                    select(WebhookDelivery)
                    .where(WebhookDelivery.event == event)
                    .order_by(WebhookDelivery.id)  # type: ignore[arg-type]
                ).all()
            )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("reviews")
    settings = make_settings(tmp / "var")
    with TestClient(create_app(settings, start_worker=False)) as client:
        keys = {
            who: make_key(settings, role, who)
            for who, role in (
                ("admin", "admin"),
                ("ana", "csm"),
                ("sam", "sales"),
                ("ulla", "uploader"),
            )
        }
        client.headers["Authorization"] = f"Bearer {keys['admin']}"
        with Session(get_engine(settings.database_url)) as session:
            session.add(
                WebhookSubscription(
                    url="https://crm.example/hook", events=["insight.reviewed"], secret="s"
                )
            )
            session.commit()
        seats = tmp / "seats.json"
        seats.write_text(
            json.dumps(
                {
                    "channel": "chat",
                    "messages": [
                        {"from": "agent", "text": "Hello, how can I help?"},
                        {
                            "from": "customer",
                            "text": "We need 10 more seats and want a quote for the "
                            "Enterprise plan.",
                        },
                    ],
                }
            )
        )
        # a customer who, in two conversations, states a broken promise and threatens to leave:
        # an account's open item gathers the insights of its conversations, so the tests that
        # work through several insights of one queue item have them
        promises = []
        for n, (promise, threat) in enumerate(
            (
                (
                    "Your sales rep promised us the reports would sync with our CRM every hour. "
                    "They only sync once a day and our managers are working with stale numbers.",
                    "If this isn't fixed by Friday we will cancel our contract.",
                ),
                (
                    "You also told us onboarding would take one week and it has now been five "
                    "weeks without a working setup. That is not what we signed up for.",
                    "We will not renew in March; we are moving the whole team to another provider.",
                ),
            )
        ):
            chat = tmp / f"promises{n}.json"
            chat.write_text(
                json.dumps(
                    {
                        "channel": "chat",
                        "messages": [
                            {"from": "agent", "text": "Hi, thanks for waiting. What can I do?"},
                            {"from": "customer", "text": promise},
                            {"from": "agent", "text": "I'm sorry about that, let me check."},
                            {"from": "customer", "text": threat},
                            {"from": "agent", "text": "I understand, I'll escalate it right now."},
                        ],
                    }
                )
            )
            promises.append(chat)
        # a second Persian conversation of the same merchant, with a complaint of its own
        second = tmp / "pardakht2.txt"
        second.write_text(
            "کارشناس: سلام، پشتیبانی پرداخت‌یار، در خدمتم\n"
            "مشتری: سلام. این ماه دو بار کارمزد ماهانه کارتخوان از حسابم کم شده و هیچ پیامکی هم "
            "نیومده. این دومین باره که این اتفاق میفته و واقعا از این وضع ناراضیم.\n"
            "کارشناس: عذرخواهی می‌کنم، بررسی می‌کنم.\n",
            encoding="utf-8",
        )
        for path, account in (
            (promises[0], "Tavana"),
            (promises[1], "Tavana"),
            (samples_dir / "chats" / "fa_churn.txt", "Pardakht"),
            (second, "Pardakht"),
            (samples_dir / "chats" / "en_upsell.json", "BlueWave"),
            (seats, "Seats Inc"),
        ):
            assert upload(client, path, account=account).status_code == 202
        drain(client)
        yield World(client, settings, keys)


def test_only_the_queue_behind_an_insight_may_review_it(world):
    cs_insight = world.item("cs", "complaint", "Pardakht")["insights"][-1]["id"]
    sales_insight = world.item("sales", "upsell", "BlueWave")["insights"][0]["id"]
    for who, insight in (("sam", cs_insight), ("ana", sales_insight), ("ulla", cs_insight)):
        response = world.review(insight, who, verdict="confirm")
        assert response.status_code == 403, who
        assert response.json()["code"] == "E013_forbidden"
        listed = world.client.get(f"/v1/insights/{insight}/reviews", headers=world.as_(who))
        assert listed.status_code == 403
    anonymous = world.client.post(
        f"/v1/insights/{cs_insight}/reviews",
        json={"verdict": "confirm"},
        headers={"Authorization": ""},
    )
    assert anonymous.status_code == 401
    assert world.review(999999, verdict="confirm").status_code == 404
    assert world.client.get("/v1/insights/999999/reviews").status_code == 404
    assert world.client.get("/v1/reviews/export", headers=world.as_("ana")).status_code == 403
    assert world.client.get(f"/v1/insights/{cs_insight}/reviews").json()["reviews"] == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"verdict": "maybe"}, 422),
        ({"verdict": "correct", "corrected_kind": "praise"}, 422),
        ({"verdict": "correct", "corrected_sentiment": "angry"}, 422),
        ({"verdict": "confirm", "category": "billing"}, 422),  # unknown field
        # found by the review service rather than the schema: the same code, the same status
        ({"verdict": "confirm", "corrected_kind": "upsell"}, 422),
        ({"verdict": "correct"}, 422),
        ({"verdict": "correct", "corrected_kind": "upsell", "corrected_category": "billing"}, 422),
    ],
)
def test_invalid_reviews_are_refused(world, body, status):
    insight = world.item("cs", "complaint", "Pardakht")["insights"][-1]["id"]
    response = world.review(insight, "ana", **body)
    assert response.status_code == status
    assert response.json()["code"] == "E010_invalid_option"


def test_a_confirmation_is_stored_with_the_reviewer(world):
    item = world.item("cs", "complaint", "Pardakht")
    insight = item["insights"][0]
    response = world.review(insight["id"], "ana", verdict="confirm", note="clear outage")
    assert response.status_code == 201
    body = response.json()
    assert body["review"]["reviewer"] == "ana" and body["review"]["verdict"] == "confirm"
    assert body["review"]["created_at"] and body["review"]["note"] == "clear outage"
    assert body["effective_kind"] == "complaint"
    assert body["queue_items"] == [item["id"]] and body["auto_dismissed"] == []
    listed = world.client.get(
        f"/v1/insights/{insight['id']}/reviews", headers=world.as_("ana")
    ).json()
    assert [r["id"] for r in listed["reviews"]] == [body["review"]["id"]]
    assert listed["kind"] == listed["effective_kind"] == "complaint"
    detail = world.client.get(f"/v1/queue-items/{item['id']}").json()
    shown = next(i for i in detail["insights"] if i["id"] == insight["id"])
    assert shown["review"]["verdict"] == "confirm" and shown["review"]["reviewer"] == "ana"
    assert detail["history"][-1]["action"] == "reviewed"
    assert detail["status"] == "open"


def test_rejecting_every_insight_dismisses_the_item(world):
    item = world.item("cs", "unmet_expectation", "Tavana")
    assert len(item["insights"]) >= 2
    assert world.client.post(
        f"/v1/queue-items/{item['id']}/claim", headers=world.as_("ana")
    ).is_success
    before = len(world.deliveries("insight.reviewed"))
    *first, last = item["insights"]
    for insight in first:
        response = world.review(insight["id"], "ana", verdict="reject")
        assert response.status_code == 201 and response.json()["auto_dismissed"] == []
    assert world.client.get(f"/v1/queue-items/{item['id']}").json()["status"] == "claimed"
    response = world.review(last["id"], "ana", verdict="correct", corrected_kind="none")
    assert response.json()["auto_dismissed"] == [item["id"]]
    assert response.json()["effective_kind"] is None
    detail = world.client.get(f"/v1/queue-items/{item['id']}").json()
    assert detail["status"] == "dismissed" and detail["closed_at"]
    assert detail["assignee"] == "ana"
    assert (detail["history"][-1]["actor"], detail["history"][-1]["action"]) == (
        "hamsu",
        "auto_dismissed",
    )
    assert detail["history"][-1]["note"]
    assert all(i["effective_kind"] is None for i in detail["insights"])
    assert item["id"] not in {
        i["id"] for i in world.client.get("/v1/queues/cs/items").json()["items"]
    }

    deliveries = world.deliveries("insight.reviewed")
    assert len(deliveries) == before + len(item["insights"])
    data = deliveries[-1].payload["data"]
    assert data["insight"]["id"] == last["id"] and data["insight"]["quote"] == last["quote"]
    assert data["queue_items"] == [item["id"]]
    assert data["review"] == {
        "verdict": "correct",
        "reviewer": "ana",
        "corrected_kind": "none",
        "corrected_category": None,
        "corrected_sentiment": None,
        "note": None,
        "created_at": response.json()["review"]["created_at"],
    }
    # a later confirmation is recorded but does not reopen the item
    assert world.review(last["id"], "ana", verdict="confirm").status_code == 201
    assert world.client.get(f"/v1/queue-items/{item['id']}").json()["status"] == "dismissed"


def test_a_kind_correction_moves_the_work_to_the_right_queue(world):
    complaint = world.item("cs", "complaint", "BlueWave")
    assert len(complaint["insights"]) == 1
    insight = complaint["insights"][0]["id"]
    response = world.review(insight, "ana", verdict="correct", corrected_kind="churn_risk")
    assert response.status_code == 201
    body = response.json()
    assert body["effective_kind"] == "churn_risk" and body["auto_dismissed"] == [complaint["id"]]
    (new_id,) = body["rerouted_to"]
    churn = world.client.get(f"/v1/queue-items/{new_id}").json()
    assert (churn["queue"], churn["kind"], churn["status"]) == ("cs", "churn_risk", "open")
    assert churn["account"] == "BlueWave"
    assert [i["id"] for i in churn["insights"]] == [insight]
    assert churn["insights"][0]["effective_kind"] == "churn_risk"
    assert world.client.get(f"/v1/queue-items/{complaint['id']}").json()["status"] == "dismissed"

    seats = world.item("sales", "upsell", "Seats Inc")
    (lead,) = seats["insights"]
    assert world.review(lead["id"], "ana", verdict="reject").status_code == 403
    response = world.review(lead["id"], "sam", verdict="correct", corrected_kind="none")
    assert response.json()["auto_dismissed"] == [seats["id"]]
    assert response.json()["rerouted_to"] == []


def test_export_is_training_data(world, tmp_path):
    churn = world.item("cs", "churn_risk", "Tavana")["insights"]
    assert len(churn) >= 2
    unmet = world.item("cs", "unmet_expectation", "Pardakht")["insights"][0]
    dropped, complaint = world.item("cs", "complaint", "Pardakht")["insights"][:2]
    world.review(churn[0]["id"], "ana", verdict="confirm")
    world.review(churn[1]["id"], "ana", verdict="reject")
    world.review(churn[1]["id"], "admin", verdict="confirm")  # the latest counts
    world.review(dropped["id"], "ana", verdict="correct", corrected_kind="none")
    world.review(
        complaint["id"],
        "ana",
        verdict="correct",
        corrected_category="staff_service",
        corrected_sentiment="negative",
    )
    world.review(
        unmet["id"],
        "admin",
        verdict="correct",
        corrected_kind="upsell",
        corrected_sentiment="positive",
    )
    response = world.client.get("/v1/reviews/export")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in response.text.splitlines()]
    assert len({r["insight_id"] for r in rows}) == len(rows)
    by_id = {r["insight_id"]: r for r in rows}
    expected = {
        churn[0]["id"]: (["churn_risk"], ["churn_risk"], None, None, "confirm", "ana"),
        churn[1]["id"]: (["churn_risk"], ["churn_risk"], None, None, "confirm", "admin"),
        dropped["id"]: ([], ["complaint"], None, None, "correct", "ana"),
        complaint["id"]: (
            ["complaint"],
            ["complaint"],
            "negative",
            "staff_service",
            "correct",
            "ana",
        ),
        unmet["id"]: (
            ["upsell"],
            ["unmet_expectation", "upsell"],
            "positive",
            None,
            "correct",
            "admin",
        ),
    }
    for insight_id, values in expected.items():
        row = by_id[insight_id]
        got = (row["labels"], row["tasks"], row["sentiment"], row["category"])
        assert got + (row["verdict"], row["reviewer"]) == values, insight_id
        assert row["created_at"]
    assert by_id[churn[0]["id"]]["text"] == churn[0]["quote"]
    assert by_id[churn[0]["id"]]["lang"] == "en" and by_id[dropped["id"]]["lang"] == "fa"

    path = tmp_path / "reviews.jsonl"
    path.write_text(response.text, encoding="utf-8")
    examples = list(review_examples(path))
    assert len(examples) == len(rows)
    for example, row in zip(examples, rows, strict=True):
        assert example.text == row["text"] and example.lang == row["lang"]
        assert example.source == "reviews" and example.split == "train"
        assert example.binary == {t: int(t in row["labels"]) for t in row["tasks"]}
        assert example.sentiment == row["sentiment"] and example.category == row["category"]
    corrected = examples[rows.index(by_id[unmet["id"]])]
    assert corrected.binary == {"unmet_expectation": 0, "upsell": 1}
    assert corrected.sentiment == "positive" and corrected.category is None
    category = examples[rows.index(by_id[complaint["id"]])]
    assert category.binary == {"complaint": 1} and category.category == "staff_service"
    rejected = examples[rows.index(by_id[dropped["id"]])]
    assert rejected.binary == {"complaint": 0} and rejected.category is None


def test_openapi_documents_reviews(world):
    paths = world.client.get("/openapi.json").json()["paths"]
    post = paths["/v1/insights/{insight_id}/reviews"]["post"]
    assert {"201", "403", "404"} <= set(post["responses"])
    export = paths["/v1/reviews/export"]["get"]
    assert "application/x-ndjson" in export["responses"]["200"]["content"]

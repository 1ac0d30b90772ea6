"""Accounts over HTTP: linking uploads to accounts (explicit id, name, phone, email domain, chat
metadata), the account page (timeline, open items per role, sentiment trend), conflicts, roles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.account_views import sentiment_trend
from models.db import get_engine
from models.tables import QueueItem, QueueItemStatus
from tests.api.conftest import make_key


def upload(client: TestClient, path: Path, **form: str):
    with path.open("rb") as fh:
        return client.post("/v1/conversations", files={"file": (path.name, fh)}, data=form)


def drain(client: TestClient) -> None:
    client.app.state.worker.run_until_idle()  # type: ignore[attr-defined]


def create(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/v1/accounts", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def account_of(client: TestClient, conversation_id: str) -> str | None:
    return client.get(f"/v1/conversations/{conversation_id}").json()["account"]


def chat_file(folder: Path, name: str, messages: list[tuple[str, str, str]], **meta: Any) -> Path:
    """A JSON chat: (from, time, text) messages plus top-level metadata."""
    doc = {
        "channel": "chat",
        **meta,
        "messages": [{"from": who, "time": at, "text": text} for who, at, text in messages],
    }
    path = folder / name
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def small_chat(folder: Path, name: str, text: str, at: str = "2025-03-11T10:00:00Z") -> Path:
    return chat_file(
        folder,
        name,
        [("agent", at, "Hello, how can I help?"), ("customer", at, text)],
    )


def as_role(client: TestClient, settings, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_key(settings, role)}"}


def test_explicit_account_id_or_external_id_links_the_upload(client, samples_dir, tmp_path):
    harbor = create(client, name="Harbor Goods", external_id="CRM-7")
    by_id = upload(client, samples_dir / "chats" / "en_upsell.json", account_id=harbor["id"])
    by_external = upload(
        client, small_chat(tmp_path, "a.json", "Hi"), account_id="CRM-7", account="Other Co"
    )
    assert by_id.status_code == 202 and by_external.status_code == 202
    # linked at upload, before any processing; the explicit id wins over the name
    assert account_of(client, by_id.json()["id"]) == "Harbor Goods"
    assert account_of(client, by_external.json()["id"]) == "Harbor Goods"
    assert client.get("/v1/accounts", params={"q": "Other"}).json()["total"] == 0
    # the account page answers to the external id too
    assert client.get("/v1/accounts/CRM-7").json()["id"] == harbor["id"]

    unknown = upload(client, small_chat(tmp_path, "b.json", "Hello"), account_id="CRM-404")
    assert unknown.status_code == 404
    body = unknown.json()
    assert body["code"] == "E011_not_found"
    assert "CRM-404" in body["message"] and "account_id" in body["message"]
    # an unknown account is refused even for a file uploaded before
    again = upload(client, samples_dir / "chats" / "en_upsell.json", account_id="CRM-404")
    assert again.status_code == 404


def test_account_name_links_and_creates(client, samples_dir):
    conversation_id = upload(
        client, samples_dir / "chats" / "fa_churn.txt", account="Pardakht Yar"
    ).json()["id"]
    assert account_of(client, conversation_id) == "Pardakht Yar"
    page = client.get("/v1/accounts", params={"q": "pardakht"}).json()
    assert page["total"] == 1
    assert page["items"][0]["name"] == "Pardakht Yar" and page["items"][0]["conversations"] == 1


def test_phone_given_at_upload_links_in_any_form(client, tmp_path):
    payar = create(client, name="Payar", phones=["0912 123 4567"])
    assert payar["phones"] == ["989121234567"]
    forms = ["+98 912 123 4567", "09121234567", "۰۹۱۲۱۲۳۴۵۶۷", "0098-912-123-4567"]
    ids = [
        upload(client, small_chat(tmp_path, f"p{n}.json", f"Message {n}"), phone=phone).json()["id"]
        for n, phone in enumerate(forms)
    ]
    assert [account_of(client, cid) for cid in ids] == ["Payar"] * len(forms)
    stranger = upload(client, small_chat(tmp_path, "s.json", "Hi"), phone="+44 20 7946 0000")
    assert stranger.status_code == 202 and account_of(client, stranger.json()["id"]) is None
    # a name given with the phone wins
    named = upload(client, small_chat(tmp_path, "n.json", "Hey"), phone="09121234567", account="X")
    assert account_of(client, named.json()["id"]) == "X"

    bad = upload(client, small_chat(tmp_path, "bad.json", "Yo"), phone="call me maybe")
    assert bad.status_code == 422 and bad.json()["code"] == "E010_invalid_option"
    assert "phone" in bad.json()["message"]

    timeline = client.get(f"/v1/accounts/{payar['id']}").json()["timeline"]
    assert {entry["id"] for entry in timeline} == set(ids)
    assert {entry["caller_phone"] for entry in timeline} == {"989121234567"}


def test_phone_in_chat_metadata_links_the_chat(client, tmp_path):
    olivia = create(client, name="Olivia Ltd", phones=["+44 20 7946 0321"])
    path = chat_file(
        tmp_path,
        "meta.json",
        [("customer", "2025-03-11T10:00:00Z", "Hello, I have a question about my bill.")],
        customer={"name": "Olivia", "phone": "020 7946 0321"},  # a national form: not ours
        caller="+44 (0)20 7946 0321",
        agent={"phone": "09121234567"},
    )
    conversation_id = upload(client, path).json()["id"]
    assert account_of(client, conversation_id) == olivia["name"]


def test_email_from_a_registered_domain_links_when_processed(client, samples_dir, tmp_path):
    harbor = create(client, name="Harbor Goods", domains=["HarborGoods.example"])
    assert harbor["domains"] == ["harborgoods.example"]
    email = tmp_path / "promise.eml"
    shutil.copy(samples_dir / "emails" / "en_unmet_promise.eml", email)
    conversation_id = upload(client, email).json()["id"]
    assert account_of(client, conversation_id) is None  # the sender is known once parsed
    drain(client)
    body = client.get(f"/v1/conversations/{conversation_id}").json()
    assert body["status"] == "routed" and body["account"] == "Harbor Goods"
    items = client.get("/v1/queues/cs/items").json()["items"]
    assert items and {item["account_id"] for item in items} == {harbor["id"]}


def test_timeline_spans_calls_emails_and_chats_in_time_order(client, samples_dir, tmp_path):
    account = create(
        client,
        name="Harbor Goods",
        external_id="HG-1",
        domains=["harborgoods.example"],
        phones=["+44 20 7946 0321"],
    )
    call = upload(client, samples_dir / "calls" / "en_call_billing.wav", phone="+442079460321")
    chat = upload(
        client,
        small_chat(
            tmp_path,
            "c.json",
            "The stock sync is still missing and we are losing orders every day.",
            at="2025-03-11T12:00:00Z",
        ),
        account_id="HG-1",
    )
    email = tmp_path / "promise.eml"
    shutil.copy(samples_dir / "emails" / "en_unmet_promise.eml", email)
    email_id = upload(client, email).json()["id"]
    drain(client)

    body = client.get(f"/v1/accounts/{account['id']}").json()
    timeline = body["timeline"]
    assert body["timeline_total"] == 3
    # the email thread began on March 10, the chat was on March 11, the call was just uploaded
    assert [e["id"] for e in timeline] == [email_id, chat.json()["id"], call.json()["id"]]
    assert [e["channel"] for e in timeline] == ["email", "chat", "call"]
    times = [e["occurred_at"] for e in timeline]
    assert times == sorted(times)
    assert timeline[0]["sent_at"].startswith("2025-03-10")
    assert timeline[1]["sent_at"].startswith("2025-03-11T12:00")
    assert timeline[2]["sent_at"] is None and timeline[2]["duration_s"] > 0
    assert timeline[2]["caller_phone"] == "442079460321"
    for entry in timeline:
        assert entry["status"] == "routed" and entry["language"] == "en"
        assert entry["readable"] is True
        sentiment = entry["customer_sentiment"]
        assert {"overall", "first", "last"} <= set(sentiment)
        assert -1 <= sentiment["overall"]["polarity"] <= 1
        scores = [i["score"] for i in entry["top_insights"]]
        assert scores == sorted(scores, reverse=True) and len(scores) <= 3
        assert sum(entry["insight_counts"].values()) >= len(scores)
    email_entry = timeline[0]
    assert email_entry["insight_counts"].get("unmet_expectation", 0) >= 1
    assert any("promised" in i["quote"] for i in email_entry["top_insights"])
    # the same conversations, oldest first, make the trend
    assert [p["conversation_id"] for p in body["sentiment_trend"]["points"]] == [
        e["id"] for e in timeline
    ]
    # timeline_limit keeps the most recent ones
    limited = client.get(f"/v1/accounts/{account['id']}", params={"timeline_limit": 2}).json()
    assert [e["channel"] for e in limited["timeline"]] == ["chat", "call"]
    assert limited["timeline_total"] == 3


def test_open_items_and_quotes_follow_the_callers_queues(client, settings, samples_dir):
    cs_conv = upload(client, samples_dir / "chats" / "fa_churn.txt", account="Mixed").json()["id"]
    sales_conv = upload(client, samples_dir / "chats" / "en_upsell.json", account="Mixed").json()[
        "id"
    ]
    drain(client)
    account_id = client.get("/v1/accounts", params={"q": "Mixed"}).json()["items"][0]["id"]
    url = f"/v1/accounts/{account_id}"

    admin_items = client.get(url).json()["open_items"]
    assert {i["queue"] for i in admin_items} == {"cs", "sales"}
    csm, sales = as_role(client, settings, "csm"), as_role(client, settings, "sales")
    csm_view = client.get(url, headers=csm).json()
    sales_view = client.get(url, headers=sales).json()
    assert csm_view["open_items"] and {i["queue"] for i in csm_view["open_items"]} == {"cs"}
    assert sales_view["open_items"] and {i["queue"] for i in sales_view["open_items"]} == {"sales"}
    assert len(csm_view["open_items"]) + len(sales_view["open_items"]) == len(admin_items)
    assert {"churn_risk", "complaint"} <= {i["kind"] for i in csm_view["open_items"]}
    assert {i["kind"] for i in sales_view["open_items"]} == {"upsell"}

    # the list counts what each role sees
    def count(headers: dict[str, str] | None = None) -> int:
        page = client.get("/v1/accounts", params={"q": "Mixed"}, headers=headers or {}).json()
        return page["items"][0]["open_items"]

    assert (count(), count(csm), count(sales)) == (
        len(admin_items),
        len(csm_view["open_items"]),
        len(sales_view["open_items"]),
    )

    # sales sees every conversation on the timeline, but quotes only from its leads' evidence
    entries = {e["id"]: e for e in sales_view["timeline"]}
    assert set(entries) == {cs_conv, sales_conv}
    assert entries[sales_conv]["readable"] and entries[sales_conv]["top_insights"]
    assert not entries[cs_conv]["readable"] and entries[cs_conv]["top_insights"] == []
    assert entries[cs_conv]["insight_counts"].get("churn_risk", 0) >= 1

    # resolved and dismissed items are not open any more
    with Session(get_engine(settings.database_url)) as session:
        item = session.get(QueueItem, sales_view["open_items"][0]["id"])
        item.status = QueueItemStatus.RESOLVED
        session.add(item)
        session.commit()
        remaining = session.exec(select(QueueItem).where(QueueItem.account_id == account_id)).all()
        assert len(remaining) == len(admin_items)
    assert client.get(url, headers=sales).json()["open_items"] == []
    assert len(client.get(url).json()["open_items"]) == len(admin_items) - 1
    assert count(sales) == 0


def test_sentiment_trend_follows_the_customer_over_time(client, tmp_path):
    account = create(client, name="Moody Ltd", external_id="MOODY")
    happy = [
        "Thank you so much, everything works perfectly now. Great service, I am very happy!",
        "You were really helpful, thanks a lot. Excellent support as always.",
    ]
    angry = [
        "This is terrible. The service has been down for a week and nobody helps us. "
        "I am furious and we want to cancel.",
        "Awful, again the same problem, worst support ever, I am extremely disappointed.",
    ]
    chats = [  # uploaded newest first: the trend follows the time of the conversation
        ("d.json", "2025-04-01T10:00:00Z", angry[1]),
        ("c.json", "2025-03-01T10:00:00Z", angry[0]),
        ("b.json", "2025-02-01T10:00:00Z", happy[1]),
        ("a.json", "2025-01-01T10:00:00Z", happy[0]),
    ]
    for name, at, text in chats:
        upload(client, small_chat(tmp_path, name, text, at=at), account_id="MOODY")
    drain(client)
    body = client.get(f"/v1/accounts/{account['id']}").json()
    trend = body["sentiment_trend"]
    points = trend["points"]
    assert [p["at"][:10] for p in points] == [
        "2025-01-01",
        "2025-02-01",
        "2025-03-01",
        "2025-04-01",
    ]
    polarity = {e["id"]: e["customer_sentiment"]["overall"]["polarity"] for e in body["timeline"]}
    assert [p["polarity"] for p in points] == [polarity[p["conversation_id"]] for p in points]
    assert points[0]["polarity"] > 0 > points[-1]["polarity"]
    assert trend["direction"] == "worsening"
    assert trend["change"] < -trend["threshold"]
    assert trend["last_third"] < trend["first_third"]


def _entry(day: int, polarity: float | None) -> dict[str, Any]:
    overall = None if polarity is None else {"label": "x", "score": 1.0, "polarity": polarity}
    return {
        "id": f"c{day}",
        "occurred_at": f"2025-01-{day:02d}T00:00:00+00:00",
        "channel": "chat",
        "customer_sentiment": {"overall": overall, "first": None, "last": None},
    }


@pytest.mark.parametrize(
    ("polarities", "direction"),
    [
        ([], "stable"),
        ([-0.9], "stable"),
        ([-0.5, 0.5], "improving"),
        ([0.2, 0.25, 0.1], "stable"),
        ([-0.6, -0.5, None, 0.0, 0.1, 0.7, 0.8], "improving"),
        ([0.9, 0.8, 0.5, 0.0, -0.2, -0.4], "worsening"),
    ],
)
def test_trend_direction_compares_first_and_last_thirds(polarities, direction):
    trend = sentiment_trend([_entry(n + 1, p) for n, p in enumerate(polarities)])
    assert trend["direction"] == direction
    assert len(trend["points"]) == len([p for p in polarities if p is not None])


def test_duplicates_are_conflicts(client):
    first = create(
        client,
        name="Harbor Goods",
        external_id="CRM-1",
        domains=["harborgoods.example"],
        phones=["09121234567"],
    )
    for body, field in [
        ({"name": "Harbor Goods"}, "name"),
        ({"name": "B", "external_id": "CRM-1"}, "external_id"),
        ({"name": "B", "domains": ["HARBORGOODS.example"]}, "domain"),
        ({"name": "B", "phones": ["+98 912 123 4567"]}, "phone"),
    ]:
        response = client.post("/v1/accounts", json=body)
        assert response.status_code == 409, body
        error = response.json()
        assert error["code"] == "E014_conflict" and "Harbor Goods" in error["message"]
        assert error["details"]["field"] == field
        assert error["details"]["account_id"] == first["id"]

    second = create(client, name="Second", phones=["+44 20 7946 0321"])
    url = f"/v1/accounts/{second['id']}"
    taken = client.patch(url, json={"phones": ["+442079460321", "0098 912 123 4567"]})
    assert taken.status_code == 409 and taken.json()["details"]["field"] == "phone"
    assert client.patch(url, json={"name": "Harbor Goods"}).status_code == 409
    # an account may keep what it has; other fields stay as they were
    same = client.patch(url, json={"phones": ["+44 20 7946 0321"], "tier": "enterprise"})
    assert same.status_code == 200
    assert same.json()["tier"] == "enterprise" and same.json()["name"] == "Second"
    renamed = client.patch(url, json={"external_id": "CRM-2", "domains": ["second.example"]})
    assert renamed.json()["external_id"] == "CRM-2"
    cleared = client.patch("/v1/accounts/CRM-2", json={"external_id": None}).json()
    assert cleared["external_id"] is None and cleared["domains"] == ["second.example"]
    assert client.patch("/v1/accounts/nope", json={"tier": "x"}).status_code == 404
    assert client.patch(url, json={"name": None}).status_code == 422


def test_invalid_account_fields_are_refused(client):
    for body in (
        {"name": "X", "phones": ["12"]},
        {"name": "X", "domains": ["not a domain"]},
        {"name": ""},
        {"name": "X", "colour": "red"},
    ):
        response = client.post("/v1/accounts", json=body)
        assert response.status_code == 422, body
        assert response.json()["code"] == "E010_invalid_option"
    assert client.get("/v1/accounts").json()["total"] == 0


def test_list_search_and_paging(client):
    for name in ("Gamma", "Alpha", "Beta 100%"):
        create(client, name=name, external_id=f"ext-{name[0]}")
    page = client.get("/v1/accounts", params={"limit": 2}).json()
    assert [a["name"] for a in page["items"]] == ["Alpha", "Beta 100%"]
    assert page["total"] == 3 and page["limit"] == 2
    rest = client.get("/v1/accounts", params={"limit": 2, "offset": 2}).json()
    assert [a["name"] for a in rest["items"]] == ["Gamma"]
    assert [a["name"] for a in client.get("/v1/accounts?q=ALP").json()["items"]] == ["Alpha"]
    assert client.get("/v1/accounts", params={"q": "0%"}).json()["total"] == 1  # % is literal
    assert client.get("/v1/accounts", params={"q": "ext-g"}).json()["items"][0]["name"] == "Gamma"
    empty = client.get("/v1/accounts/nope")
    assert empty.status_code == 404 and empty.json()["code"] == "E011_not_found"


def test_roles_and_keys(client, settings):
    account = create(client, name="Guarded")
    url = f"/v1/accounts/{account['id']}"
    calls = [
        ("post", "/v1/accounts", {"name": "New"}),
        ("patch", url, {"tier": "gold"}),
        ("get", "/v1/accounts", None),
        ("get", url, None),
    ]
    anonymous = TestClient(client.app)
    for method, path, body in calls:
        kwargs = {"json": body} if body is not None else {}
        response = anonymous.request(method, path, **kwargs)
        assert response.status_code == 401, (method, path)
        assert response.json()["code"] == "E012_unauthorized"
        wrong = anonymous.request(
            method, path, headers={"Authorization": "Bearer hk_wrong"}, **kwargs
        )
        assert wrong.status_code == 401
    uploader = as_role(client, settings, "uploader")
    for method, path, body in calls:
        kwargs = {"json": body} if body is not None else {}
        response = client.request(method, path, headers=uploader, **kwargs)
        assert response.status_code == 403, (method, path)
        assert response.json()["code"] == "E013_forbidden"
    for role in ("csm", "sales"):
        headers = as_role(client, settings, role)
        assert client.post("/v1/accounts", json={"name": "N"}, headers=headers).status_code == 403
        assert client.patch(url, json={"tier": "gold"}, headers=headers).status_code == 403
        assert client.get("/v1/accounts", headers=headers).status_code == 200
        assert client.get(url, headers=headers).status_code == 200


def test_openapi_documents_the_account_routes(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {"/v1/accounts", "/v1/accounts/{account_id}"} <= set(paths)
    for path, method in [
        ("/v1/accounts", "post"),
        ("/v1/accounts", "get"),
        ("/v1/accounts/{account_id}", "get"),
        ("/v1/accounts/{account_id}", "patch"),
    ]:
        operation = paths[path][method]
        assert operation["summary"] and {"401", "403"} <= set(operation["responses"])
    assert "409" in paths["/v1/accounts"]["post"]["responses"]
    ref = paths["/v1/conversations"]["post"]["requestBody"]["content"]["multipart/form-data"]
    form = spec["components"]["schemas"][ref["schema"]["$ref"].rsplit("/", 1)[1]]
    assert {"account", "account_id", "phone"} <= set(form["properties"])
    assert spec["components"]["schemas"]["AccountCreate"].get("examples")

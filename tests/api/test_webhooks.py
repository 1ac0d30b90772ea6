"""Webhooks over HTTP: subscriptions, signed deliveries to a real local receiver, retries with
backoff, the delivery log, replay, restart survival and the private-address policy."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, select

from api.main import create_app
from api.schemas.webhooks import EventName
from core.errors import HamsuError
from core.settings import Settings, WebhookSettings
from models.db import get_engine
from models.tables import WebhookAttempt, WebhookDelivery, utcnow
from routing.events import EVENTS, emit
from routing.webhooks import (
    INTERRUPTED,
    WebhookSender,
    backoff_s,
    sign,
    validate_target,
    verify_signature,
)
from tests.api.conftest import make_key, make_settings

ALLOW_LOCAL = ["127.0.0.1/32"]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)  # type: ignore[no-any-return]


class Receiver:
    """An HTTP server on 127.0.0.1 that records POSTs and answers 500 to the next `fail_next`
    ones; `/redirect...` paths answer 302."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.fail_next = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.requests.append(Received(self.path, dict(self.headers), body))
                    failing = receiver.fail_next > 0
                    receiver.fail_next -= 1 if failing else 0
                if self.path.startswith("/redirect"):
                    self.send_response(302)
                    self.send_header("Location", "/hook")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                answer = b"receiver is down" if failing else b"ok"
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.requests)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def hook_settings(data_dir: Path, **webhooks: Any) -> Settings:
    options: dict[str, Any] = {
        "allow_private": ALLOW_LOCAL,
        "backoff_base_s": 0.3,
        "backoff_max_s": 0.6,
        "max_attempts": 3,
        "timeout_s": 5.0,
    } | webhooks
    return make_settings(data_dir).model_copy(update={"webhooks": WebhookSettings(**options)})


@pytest.fixture
def wsettings(tmp_path: Path) -> Settings:
    return hook_settings(tmp_path / "var")


@pytest.fixture
def wclient(wsettings: Settings) -> Iterator[TestClient]:
    app = create_app(wsettings, start_worker=False)
    with TestClient(app) as test_client:
        test_client.headers["Authorization"] = f"Bearer {make_key(wsettings, 'admin')}"
        yield test_client


def sender_of(client: TestClient) -> WebhookSender:
    return client.app.state.webhook_sender  # type: ignore[attr-defined,no-any-return]


def subscribe(client: TestClient, url: str, events: list[str] | None = None) -> dict[str, Any]:
    response = client.post(
        "/v1/webhooks", json={"url": url, "events": events or ["queue_item.created"]}
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


class AnyPayload(BaseModel):
    """An event body of the test's choosing (the product's own shapes are in routing.payloads)."""

    model_config = ConfigDict(extra="allow")


def emit_event(settings: Settings, event: str = "queue_item.created", **data: Any) -> str:
    body = AnyPayload(**(data or {"id": 1, "queue": "cs", "kind": "complaint"}))
    with Session(get_engine(settings.database_url)) as session:
        event_id = emit(session, event, body)
        session.commit()
    return event_id


def deliveries(client: TestClient, webhook_id: int, **params: Any) -> list[dict[str, Any]]:
    response = client.get(f"/v1/webhooks/{webhook_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    return response.json()["deliveries"]  # type: ignore[no-any-return]


def independent_signature_ok(secret: str, request: Received) -> bool:
    """The check a receiver would write from docs/webhooks.md, without Hamsu's helper."""
    fields = dict(part.split("=", 1) for part in request.headers["X-Hamsu-Signature"].split(","))
    message = fields["t"].encode() + b"." + request.body
    expected = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    fresh = abs(time.time() - int(fields["t"])) < 300
    return fresh and hmac.compare_digest(expected, fields["v1"])


# --- policy and signatures -----------------------------------------------------------------------


def test_event_names_match_the_emitted_events():
    assert get_args(EventName) == EVENTS


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/hook", "http:// or https://"),
        ("hooks.example.com/x", "no scheme"),
        ("http:///hook", "no host"),
        ("http://10.0.0.5/hook", "10.0.0.5 is a private address"),
        ("http://127.0.0.1:8080/hook", "loopback"),
        ("http://localhost:8080/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://[::ffff:192.168.1.4]/hook", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://0.0.0.0/hook", "unspecified"),
        ("http://224.0.0.1/hook", "multicast"),
        ("http://100.64.0.1/hook", "not globally routable"),
        ("http://example.com:99999/hook", "not a valid URL"),
    ],
)
def test_targets_refused(url, words):
    with pytest.raises(HamsuError) as caught:
        validate_target(url, [])
    assert caught.value.code == "E015_invalid_webhook_target"
    assert words in caught.value.message


def test_allow_list_by_cidr_and_by_host_name():
    validate_target("https://93.184.216.34/hook", [])  # a public literal needs no lookup
    validate_target("http://10.0.0.5/hook", ["10.0.0.0/8"])
    validate_target("http://localhost:8080/hook", ["127.0.0.0/8", "::1/128"])
    validate_target("http://LOCALHOST:8080/hook", ["localhost"])
    with pytest.raises(HamsuError):
        validate_target("http://10.0.0.5/hook", ["10.1.0.0/16", "localhost"])


def test_signature_helper():
    body = b'{"id":"e1","event":"queue_item.created"}'
    header = sign("s3cret-s3cret-s3cret", body, timestamp=int(time.time()))
    assert verify_signature("s3cret-s3cret-s3cret", header, body)
    assert not verify_signature("other-secret-other", header, body)
    assert not verify_signature("s3cret-s3cret-s3cret", header, body + b" ")
    stale = sign("s3cret-s3cret-s3cret", body, timestamp=int(time.time()) - 600)
    assert not verify_signature("s3cret-s3cret-s3cret", stale, body)
    assert verify_signature("s3cret-s3cret-s3cret", stale, body, tolerance_s=900)
    assert not verify_signature("s3cret-s3cret-s3cret", "v1=abc", body)
    assert not verify_signature("s3cret-s3cret-s3cret", "t=x,v1=abc", body)


def test_backoff_doubles_and_is_capped():
    config = WebhookSettings(backoff_base_s=2, backoff_max_s=30)
    delays = [backoff_s(n, config) for n in range(1, 7)]
    for delay, base in zip(delays, [2, 4, 8, 16, 30, 30], strict=True):
        assert base <= delay <= base * 1.1


# --- subscriptions -------------------------------------------------------------------------------


def test_subscription_crud_and_validation(client, tmp_path, receiver):
    # the default settings allow no private targets
    for url, status in [
        ("ftp://example.com/hook", 422),
        ("http://10.0.0.5/hook", 422),
        ("http://localhost:9/hook", 422),
        (receiver.url(), 422),
    ]:
        response = client.post("/v1/webhooks", json={"url": url, "events": ["queue_item.created"]})
        assert response.status_code == status, url
        assert response.json()["code"] == "E015_invalid_webhook_target"
    bad_events = client.post("/v1/webhooks", json={"url": receiver.url(), "events": ["nope"]})
    assert bad_events.status_code == 422 and bad_events.json()["code"] == "E010_invalid_option"
    no_events = client.post("/v1/webhooks", json={"url": receiver.url(), "events": []})
    assert no_events.status_code == 422

    settings = hook_settings(tmp_path / "other", allow_private=["localhost", *ALLOW_LOCAL])
    with TestClient(create_app(settings, start_worker=False)) as admin:
        admin.headers["Authorization"] = f"Bearer {make_key(settings, 'admin')}"
        created = admin.post(
            "/v1/webhooks",
            json={
                "url": receiver.url(),
                "events": ["queue_item.created", "insight.reviewed", "queue_item.created"],
                "description": "CRM",
            },
        )
        assert created.status_code == 201
        hook = created.json()
        assert hook["secret"].startswith("whsec_") and len(hook["secret"]) > 30
        assert hook["events"] == ["queue_item.created", "insight.reviewed"]
        assert hook["active"] is True and hook["description"] == "CRM"
        assert hook["deliveries"] == {"pending": 0, "succeeded": 0, "failed": 0}
        by_name = admin.post(
            "/v1/webhooks",
            json={
                "url": f"http://localhost:{receiver.port}/h",
                "events": ["queue_item.resolved"],
                "secret": "a-secret-of-my-own-choosing",
            },
        )
        assert by_name.status_code == 201
        assert by_name.json()["secret"] == "a-secret-of-my-own-choosing"
        short = admin.post(
            "/v1/webhooks",
            json={"url": receiver.url(), "events": ["queue_item.created"], "secret": "short"},
        )
        assert short.status_code == 422

        one = admin.get(f"/v1/webhooks/{hook['id']}").json()
        assert one["secret"] is None and one["url"] == receiver.url()
        listed = admin.get("/v1/webhooks").json()
        assert [h["id"] for h in listed] == [hook["id"], by_name.json()["id"]]
        assert all(h["secret"] is None for h in listed)

        private = admin.patch(f"/v1/webhooks/{hook['id']}", json={"url": "http://10.0.0.5/x"})
        assert private.status_code == 422
        assert admin.get(f"/v1/webhooks/{hook['id']}").json()["url"] == receiver.url()
        patched = admin.patch(
            f"/v1/webhooks/{hook['id']}",
            json={"active": False, "events": ["queue_item.resolved"], "url": receiver.url("/v2")},
        ).json()
        assert patched["active"] is False and patched["events"] == ["queue_item.resolved"]
        assert patched["url"].endswith("/v2") and patched["secret"] is None
        assert [h["id"] for h in admin.get("/v1/webhooks", params={"active": False}).json()] == [
            hook["id"]
        ]
        rotated = admin.patch(f"/v1/webhooks/{hook['id']}", json={"rotate_secret": True}).json()
        assert rotated["secret"].startswith("whsec_") and rotated["secret"] != hook["secret"]

        assert admin.delete(f"/v1/webhooks/{hook['id']}").status_code == 204
        missing = admin.get(f"/v1/webhooks/{hook['id']}")
        assert missing.status_code == 404 and missing.json()["code"] == "E011_not_found"
        assert admin.delete(f"/v1/webhooks/{hook['id']}").status_code == 404
        assert admin.patch("/v1/webhooks/999", json={"active": True}).status_code == 404


# --- deliveries ----------------------------------------------------------------------------------


def test_created_items_are_delivered_signed(wclient, wsettings, receiver, samples_dir):
    created_hook = subscribe(wclient, receiver.url(), ["queue_item.created"])
    resolved_hook = subscribe(wclient, receiver.url("/resolved"), ["queue_item.resolved"])
    with (samples_dir / "chats" / "en_upsell.json").open("rb") as fh:
        upload = wclient.post("/v1/conversations", files={"file": ("en_upsell.json", fh)})
    assert upload.status_code == 202
    wclient.app.state.worker.run_until_idle()  # type: ignore[attr-defined]
    items = [
        item
        for queue in ("cs", "sales")
        for item in wclient.get(f"/v1/queues/{queue}/items").json()["items"]
    ]
    assert any(item["queue"] == "sales" and item["kind"] == "upsell" for item in items)

    assert sender_of(wclient).run_due() == len(items)
    received = receiver.wait_for(len(items))
    assert len(received) == len(items)
    assert {r.path for r in received} == {"/hook"}  # nothing for the resolved-only subscriber
    by_item = {r.json["data"]["id"]: r for r in received}
    assert set(by_item) == {item["id"] for item in items}
    for item in items:
        request = by_item[item["id"]]
        assert verify_signature(
            created_hook["secret"], request.headers["X-Hamsu-Signature"], request.body
        )
        assert independent_signature_ok(created_hook["secret"], request)
        assert not verify_signature(
            resolved_hook["secret"], request.headers["X-Hamsu-Signature"], request.body
        )
        body = request.json
        assert set(body) == {"id", "event", "created_at", "data"}
        assert body["event"] == "queue_item.created"
        assert request.headers["X-Hamsu-Event"] == "queue_item.created"
        assert request.headers["X-Hamsu-Event-Id"] == body["id"]
        assert request.headers["Content-Type"] == "application/json"
        data = body["data"]
        assert (data["queue"], data["kind"], data["status"]) == (
            item["queue"],
            item["kind"],
            "open",
        )
        assert data["conversation_id"] == upload.json()["id"]
        assert data["account"] is None
        assert [i["id"] for i in data["insights"]] == [i["id"] for i in item["insights"]]
        assert all(i["quote"] for i in data["insights"])

    log = deliveries(wclient, created_hook["id"])
    assert len(log) == len(items)
    for delivery in log:
        assert delivery["status"] == "succeeded" and delivery["attempt_count"] == 1
        assert [a["status_code"] for a in delivery["attempts"]] == [200]
        assert delivery["delivered_at"] and delivery["next_attempt_at"] is None
        assert by_item[delivery["payload"]["data"]["id"]].headers["X-Hamsu-Delivery"] == str(
            delivery["id"]
        )
    assert deliveries(wclient, resolved_hook["id"]) == []
    assert wclient.get(f"/v1/webhooks/{created_hook['id']}").json()["deliveries"] == {
        "pending": 0,
        "succeeded": len(items),
        "failed": 0,
    }


def test_receiver_fails_once_then_the_retry_succeeds(wclient, wsettings, receiver):
    hook = subscribe(wclient, receiver.url())
    receiver.fail_next = 1
    event_id = emit_event(wsettings, id=7, queue="cs", kind="complaint")
    sender = sender_of(wclient)
    assert sender.run_due() == 1
    [pending] = deliveries(wclient, hook["id"])
    assert pending["status"] == "pending" and pending["attempt_count"] == 1
    assert pending["last_status_code"] == 500 and pending["next_attempt_at"]
    assert pending["attempts"][0]["error"] == "HTTP 500: receiver is down"
    assert sender.run_due() == 0  # the retry waits for its backoff (0.3 s)
    time.sleep(0.4)
    assert sender.run_due() == 1

    [done] = deliveries(wclient, hook["id"])
    assert done["status"] == "succeeded" and done["attempt_count"] == 2
    assert [a["status_code"] for a in done["attempts"]] == [500, 200]
    assert done["attempts"][1]["error"] is None
    assert len(receiver.requests) == 2
    first, second = receiver.requests
    for request in (first, second):
        assert request.headers["X-Hamsu-Event-Id"] == event_id == request.json["id"]
        assert request.headers["X-Hamsu-Delivery"] == str(done["id"])
        assert independent_signature_ok(hook["secret"], request)
    assert first.body == second.body


def test_failed_after_max_attempts_then_replayed(wclient, wsettings, receiver):
    hook = subscribe(wclient, receiver.url())
    receiver.fail_next = 100
    event_id = emit_event(wsettings)
    sender = sender_of(wclient)
    [delivery] = deliveries(wclient, hook["id"])
    early = wclient.post(f"/v1/webhooks/deliveries/{delivery['id']}/replay")
    assert early.status_code == 409 and early.json()["code"] == "E014_conflict"

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sender.run_due()
        if deliveries(wclient, hook["id"])[0]["status"] != "pending":
            break
        time.sleep(0.05)
    [failed] = deliveries(wclient, hook["id"], status="failed")
    assert failed["attempt_count"] == 3 and failed["next_attempt_at"] is None
    assert [a["status_code"] for a in failed["attempts"]] == [500, 500, 500]
    assert len(receiver.requests) == 3
    assert deliveries(wclient, hook["id"], status="pending") == []
    time.sleep(0.1)
    assert sender.run_due() == 0  # failed deliveries are not retried by themselves

    receiver.fail_next = 0
    replayed = wclient.post(f"/v1/webhooks/deliveries/{failed['id']}/replay")
    assert replayed.status_code == 202
    assert replayed.json()["status"] == "pending" and replayed.json()["attempt_count"] == 0
    assert sender.run_due() == 1
    done = wclient.get(f"/v1/webhooks/deliveries/{failed['id']}").json()
    assert done["status"] == "succeeded" and done["event_id"] == event_id
    assert [a["status_code"] for a in done["attempts"]] == [500, 500, 500, 200]
    assert receiver.requests[-1].headers["X-Hamsu-Event-Id"] == event_id
    assert receiver.requests[-1].body == receiver.requests[0].body

    # a succeeded delivery can be replayed too, with the same event id
    assert wclient.post(f"/v1/webhooks/deliveries/{failed['id']}/replay").status_code == 202
    assert sender.run_due() == 1
    assert len(receiver.requests) == 5
    assert receiver.requests[-1].headers["X-Hamsu-Event-Id"] == event_id
    assert wclient.post("/v1/webhooks/deliveries/9999/replay").status_code == 404


def test_paused_webhook_holds_deliveries_and_ping(wclient, wsettings, receiver):
    hook = subscribe(wclient, receiver.url())
    emit_event(wsettings)
    wclient.patch(f"/v1/webhooks/{hook['id']}", json={"active": False})
    emit_event(wsettings)  # not recorded: the subscription is paused
    sender = sender_of(wclient)
    assert sender.run_due() == 0
    assert wclient.post(f"/v1/webhooks/{hook['id']}/test").status_code == 409
    wclient.patch(f"/v1/webhooks/{hook['id']}", json={"active": True})
    ping = wclient.post(f"/v1/webhooks/{hook['id']}/test")
    assert ping.status_code == 202 and ping.json()["event"] == "ping"
    assert sender.run_due() == 2
    assert sorted(r.json["event"] for r in receiver.requests) == ["ping", "queue_item.created"]
    assert all(independent_signature_ok(hook["secret"], r) for r in receiver.requests)
    assert len(deliveries(wclient, hook["id"], event="ping")) == 1
    page = wclient.get(f"/v1/webhooks/{hook['id']}/deliveries", params={"limit": 1}).json()
    assert page["total"] == 2 and page["deliveries"][0]["event"] == "ping"
    older = wclient.get(
        f"/v1/webhooks/{hook['id']}/deliveries", params={"limit": 1, "before": page["next_before"]}
    ).json()
    assert [d["event"] for d in older["deliveries"]] == ["queue_item.created"]
    assert older["next_before"] is None


def test_redirects_are_not_followed(wclient, wsettings, receiver):
    hook = subscribe(wclient, receiver.url("/redirect"))
    emit_event(wsettings)
    assert sender_of(wclient).run_due() == 1
    assert [r.path for r in receiver.requests] == ["/redirect"]
    [delivery] = deliveries(wclient, hook["id"])
    assert delivery["attempts"][0]["status_code"] == 302
    assert "not followed" in delivery["attempts"][0]["error"]


def test_target_is_checked_again_and_pinned_at_delivery(wclient, wsettings, receiver, monkeypatch):
    real_getaddrinfo = socket.getaddrinfo
    answers = {"crm.example.com": "93.184.216.34", "receiver.test": "127.0.0.1"}

    def fake_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    moved = subscribe(wclient, "http://crm.example.com/hook")
    pinned = subscribe(wclient, f"http://receiver.test:{receiver.port}/pinned")
    answers["crm.example.com"] = "10.1.2.3"  # DNS changed after the subscription was checked
    emit_event(wsettings)
    assert sender_of(wclient).run_due() == 2
    [refused] = deliveries(wclient, moved["id"])
    assert refused["status"] == "pending" and refused["attempts"][0]["status_code"] is None
    assert refused["attempts"][0]["error"].startswith("target refused: 10.1.2.3 is a private")
    [request] = receiver.requests
    assert request.path == "/pinned" and request.headers["Host"] == f"receiver.test:{receiver.port}"
    assert deliveries(wclient, pinned["id"])[0]["status"] == "succeeded"


def test_pending_deliveries_survive_a_restart(tmp_path, receiver):
    settings = hook_settings(tmp_path / "var", backoff_base_s=0.5)
    with TestClient(create_app(settings, start_worker=False)) as first:
        first.headers["Authorization"] = f"Bearer {make_key(settings, 'admin')}"
        hook = subscribe(first, receiver.url())
        receiver.fail_next = 1
        retried = emit_event(settings, id=1)
        sender = sender_of(first)
        assert sender.run_due() == 1  # 500: the retry is due in 0.5 s
        in_flight = emit_event(settings, id=3)
        # the process "dies" while this one is being sent: claimed, never finished
        claim = sender._claim(utcnow())
        assert claim is not None and claim.event_id == in_flight
        untouched = emit_event(settings, id=2)
    assert len(receiver.requests) == 1

    second_app = create_app(settings, start_worker=True)  # starts the sender thread
    with TestClient(second_app) as second:
        second.headers["Authorization"] = f"Bearer {make_key(settings, 'admin')}"
        received = receiver.wait_for(4)
        assert {r.headers["X-Hamsu-Event-Id"] for r in received[1:]} == {
            retried,
            untouched,
            in_flight,
        }
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            log = {d["event_id"]: d for d in deliveries(second, hook["id"])}
            if all(d["status"] == "succeeded" for d in log.values()):
                break
            time.sleep(0.05)
        assert {d["status"] for d in log.values()} == {"succeeded"}
        assert [a["status_code"] for a in log[retried]["attempts"]] == [500, 200]
        assert [a["status_code"] for a in log[untouched]["attempts"]] == [200]
        assert [(a["status_code"], a["error"]) for a in log[in_flight]["attempts"]] == [
            (None, INTERRUPTED),
            (200, None),
        ]
    with Session(get_engine(settings.database_url)) as session:
        assert all(d.status == "succeeded" for d in session.exec(select(WebhookDelivery)).all())
        assert len(session.exec(select(WebhookAttempt)).all()) == 5


def test_two_senders_never_send_the_same_attempt(wsettings, wclient, receiver):
    hook = subscribe(wclient, receiver.url())
    for n in range(12):
        emit_event(wsettings, id=n)
    senders = [WebhookSender(wsettings) for _ in range(3)]
    made: list[int] = []
    threads = [threading.Thread(target=lambda s=s: made.append(s.run_due())) for s in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sum(made) == 12
    assert sorted(int(r.headers["X-Hamsu-Delivery"]) for r in receiver.requests) == sorted(
        d["id"] for d in deliveries(wclient, hook["id"])
    )
    assert all(d["attempt_count"] == 1 for d in deliveries(wclient, hook["id"]))


# --- roles ---------------------------------------------------------------------------------------


def test_only_admins_reach_webhook_routes(wclient, wsettings):
    routes = [
        (method.upper(), path.replace("{webhook_id}", "1").replace("{delivery_id}", "1"))
        for path, operations in wclient.app.openapi()["paths"].items()  # type: ignore[attr-defined]
        if path.startswith("/v1/webhooks")
        for method in operations
    ]
    assert len(routes) == 9
    body = {"url": "https://93.184.216.34/h", "events": ["queue_item.created"]}
    keys = {role: make_key(wsettings, role) for role in ("uploader", "csm", "sales")}
    anonymous = TestClient(wclient.app)
    for method, path in routes:
        response = anonymous.request(method, path, json=body)
        assert response.status_code == 401, (method, path)
        assert response.json()["code"] == "E012_unauthorized"
        for role, key in keys.items():
            response = anonymous.request(
                method, path, json=body, headers={"Authorization": f"Bearer {key}"}
            )
            assert response.status_code == 403, (role, method, path)
            assert response.json()["code"] == "E013_forbidden"

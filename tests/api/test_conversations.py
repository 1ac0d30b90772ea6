"""Upload → worker → analysis and queues, over HTTP, with the real models and SQLite."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.main import create_app
from models.db import get_engine
from models.tables import Conversation, ConversationStatus
from pipeline.jobs import MAX_ATTEMPTS, claim_next, requeue_in_flight
from tests.api.conftest import make_key, make_settings
from tests.databases import ON_POSTGRES


def upload(client: TestClient, path: Path, **form: str):
    with path.open("rb") as fh:
        return client.post("/v1/conversations", files={"file": (path.name, fh)}, data=form)


def drain(client: TestClient) -> None:
    client.app.state.worker.run_until_idle()  # type: ignore[attr-defined]


def test_chat_upload_is_analyzed_and_routed(client, samples_dir):
    response = upload(client, samples_dir / "chats" / "en_upsell.json", account="Acme Mobile")
    assert response.status_code == 202
    conversation_id = response.json()["id"]
    assert client.get(f"/v1/conversations/{conversation_id}").json()["status"] == "queued"
    drain(client)
    body = client.get(f"/v1/conversations/{conversation_id}").json()
    assert body["status"] == "routed"
    assert body["channel"] == "chat" and body["language"] == "en"
    assert body["account"] == "Acme Mobile"
    assert {t["speaker"] for t in body["turns"]} == {"agent", "customer"}
    kinds = {i["kind"] for i in body["insights"]}
    assert "upsell" in kinds
    for insight in body["insights"]:
        turn = body["turns"][insight["turn"]]
        assert insight["quote"] in turn["text"] and insight["speaker"] == "customer"
        assert insight["detector"].startswith("hamsu.")
    queues = {r["queue"] for r in body["routes"]}
    assert "sales" in queues
    sales = client.get("/v1/queues/sales/items").json()
    assert sales["total"] == 1
    assert sales["items"][0]["conversation_id"] == conversation_id
    assert sales["items"][0]["insights"][0]["kind"] == "upsell"


def test_persian_email_is_analyzed(client, samples_dir):
    conversation_id = upload(client, samples_dir / "emails" / "fa_upsell_seats.eml").json()["id"]
    drain(client)
    body = client.get(f"/v1/conversations/{conversation_id}").json()
    assert body["status"] == "routed" and body["language"] == "fa"
    assert any(i["kind"] == "upsell" for i in body["insights"])


def test_same_file_twice_returns_the_first_conversation(client, samples_dir):
    first = upload(client, samples_dir / "chats" / "fa_churn.txt")
    second = upload(client, samples_dir / "chats" / "fa_churn.txt")
    assert first.status_code == 202 and second.status_code == 200
    assert second.json()["id"] == first.json()["id"] and second.json()["duplicate"] is True


@pytest.mark.parametrize(
    ("name", "content", "status", "code"),
    [
        ("empty.wav", b"", 400, "E001_empty_file"),
        ("call.wav", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", 415, "E002_unsupported_format"),
        ("blob.bin", bytes(range(256)) * 4, 415, "E002_unsupported_format"),
    ],
)
def test_bad_uploads_get_a_precise_error(client, name, content, status, code):
    response = client.post("/v1/conversations", files={"file": (name, content)})
    assert response.status_code == status
    body = response.json()
    assert body["code"] == code and body["message"]


def test_bad_file_is_kept_as_failed_and_other_jobs_are_unaffected(
    client, samples_dir, test_data_dir
):
    good = upload(client, samples_dir / "chats" / "en_upsell.json").json()["id"]
    bad = client.post("/v1/conversations", files={"file": ("c.json", b'{"messages": [')})
    assert bad.status_code == 202  # a chat by its name; the parser finds the problem
    drain(client)
    failed = client.get(f"/v1/conversations/{bad.json()['id']}").json()
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "E006_malformed_chat"
    assert "line 1" in failed["error"]["message"]
    assert client.get(f"/v1/conversations/{good}").json()["status"] == "routed"
    pdf = client.post("/v1/conversations", files={"file": ("x.wav", b"%PDF-1.4 junk")})
    stored = client.get(f"/v1/conversations/{pdf.json()['details']['conversation_id']}").json()
    assert stored["status"] == "failed" and "PDF" in stored["error"]["message"]


def test_invalid_options_are_refused(client, samples_dir):
    response = upload(client, samples_dir / "chats" / "en_upsell.json", language="de")
    assert response.status_code == 422
    assert response.json()["code"] == "E010_invalid_option"
    assert client.get("/v1/conversations/nope").status_code == 404


def test_restart_resumes_work_that_was_in_flight(tmp_path, samples_dir):
    settings = make_settings(tmp_path / "var")
    with TestClient(create_app(settings, start_worker=False)) as client:
        client.headers["X-API-Key"] = key = make_key(settings, "admin")
        conversation_id = upload(client, samples_dir / "chats" / "fa_churn.txt").json()["id"]
    engine = get_engine(settings.database_url)
    with Session(engine) as session:  # the process died while analyzing
        conversation = session.get(Conversation, conversation_id)
        conversation.status = ConversationStatus.ANALYZING
        session.add(conversation)
        session.commit()
        assert requeue_in_flight(session) == 1
    with TestClient(create_app(settings, start_worker=True)) as client:
        client.headers["X-API-Key"] = key
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            status = client.get(f"/v1/conversations/{conversation_id}").json()["status"]
            if status in ("routed", "failed"):
                break
            time.sleep(0.2)
        assert status == "routed"
        items = client.get("/v1/queues/cs/items").json()["items"]
        assert "churn_risk" in {item["kind"] for item in items}
        assert all(item["conversation_id"] == conversation_id for item in items)


def test_healthz_and_openapi(client):
    assert client.get("/healthz").json()["status"] == "ok"
    paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/v1/conversations",
        "/v1/conversations/{conversation_id}",
        "/v1/queues/{queue}/items",
    } <= set(paths)


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's single writer; PostgreSQL writers do not block")
def test_a_write_blocked_by_another_writer_gets_503_and_the_retry_succeeds(tmp_path, samples_dir):
    db = tmp_path / "hamsu.db"
    settings = make_settings(tmp_path / "var")
    settings.database.url = f"sqlite:///{db}?timeout=0.2"
    with TestClient(create_app(settings, start_worker=False)) as client:
        client.headers["Authorization"] = f"Bearer {make_key(settings, 'admin')}"
        chat = samples_dir / "chats" / "en_upsell.json"
        other_writer = sqlite3.connect(db, isolation_level=None)
        other_writer.execute("BEGIN IMMEDIATE")
        try:
            busy = upload(client, chat)
        finally:
            other_writer.execute("ROLLBACK")
            other_writer.close()
        assert busy.status_code == 503, busy.text
        assert busy.json()["code"] == "E103_database_busy"
        assert busy.headers["Retry-After"] == "2"
        assert client.get("/v1/conversations").json() == []
        retried = upload(client, chat)
        assert retried.status_code == 202
        drain(client)
        assert client.get(f"/v1/conversations/{retried.json()['id']}").json()["status"] == "routed"


def test_a_job_that_keeps_killing_the_worker_fails_instead_of_crash_looping(tmp_path, samples_dir):
    settings = make_settings(tmp_path / "var")
    with TestClient(create_app(settings, start_worker=False)) as client:
        client.headers["X-API-Key"] = make_key(settings, "admin")
        conversation_id = upload(client, samples_dir / "chats" / "fa_churn.txt").json()["id"]
    with Session(get_engine(settings.database_url)) as session:
        # each restart finds it in flight again: the worker died on it every time
        for attempt in range(1, MAX_ATTEMPTS + 1):
            assert claim_next(session) == conversation_id
            conversation = session.get(Conversation, conversation_id)
            assert conversation.attempts == attempt
            requeued = requeue_in_flight(session)
            session.refresh(conversation)
            if attempt < MAX_ATTEMPTS:
                assert requeued == 1 and conversation.status == ConversationStatus.QUEUED
        assert requeued == 0
        assert conversation.status == ConversationStatus.FAILED
        assert conversation.error_code == "E104_worker_lost"
        assert claim_next(session) is None

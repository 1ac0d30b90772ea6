"""Uploads as an operator meets them: concurrent duplicates, size limits, empty files, retries."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conftest import make_key, make_settings


@pytest.mark.parametrize("account", [None, "Race Mobile"])
def test_simultaneous_uploads_of_the_same_bytes_make_one_conversation(
    tmp_path, samples_dir, account
):
    """The losers of the race on Conversation.sha256 (and on a new account's name) answer 200
    with the winner's conversation, never 500."""
    settings = make_settings(tmp_path / "var")
    data = (samples_dir / "chats" / "en_upsell.json").read_bytes()
    uploads = 20
    barrier = threading.Barrier(uploads)
    answers: list[tuple[int, dict]] = []
    # a server error must come back as a 500 answer, not as an exception in the thread
    app = create_app(settings, start_worker=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {make_key(settings, 'admin')}"

        def upload_once() -> None:
            barrier.wait()
            response = client.post(
                "/v1/conversations",
                files={"file": ("en_upsell.json", data)},
                data={"account": account} if account else {},
            )
            answers.append((response.status_code, response.json() if response.text else {}))

        threads = [threading.Thread(target=upload_once) for _ in range(uploads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        listed = client.get("/v1/conversations").json()
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * (uploads - 1) + [202], answers
    assert len({body["id"] for _, body in answers}) == 1
    assert [body["duplicate"] for status, body in answers if status == 200] == [True] * 19
    assert [c["id"] for c in listed] == [answers[0][1]["id"]]


def upload(client: TestClient, name: str, data: bytes, **form: str):
    return client.post("/v1/conversations", files={"file": (name, data)}, data=form)


def drain(client: TestClient) -> None:
    client.app.state.worker.run_until_idle()  # type: ignore[attr-defined]


def stored_files(settings) -> list[Path]:
    uploads = settings.storage.data_dir / "uploads"
    return [path for path in uploads.rglob("*") if path.is_file()] if uploads.exists() else []


def test_utf16_chat_with_a_byte_order_mark_is_analyzed_as_a_chat(client, test_data_dir):
    """FF FE opens both a UTF-16LE text and an MPEG frame; the text must win."""
    data = (test_data_dir / "chat" / "utf16_bom.txt").read_bytes()
    accepted = upload(client, "utf16_bom.txt", data)
    assert accepted.status_code == 202, accepted.text
    drain(client)
    body = client.get(f"/v1/conversations/{accepted.json()['id']}").json()
    assert (body["status"], body["channel"]) == ("routed", "chat"), body.get("error")
    assert body["turns"][1]["text"] == "I was charged a late fee although I paid on time."


def test_a_chat_over_its_limit_is_refused_at_upload_and_nothing_is_stored(client, settings):
    # under the 5 MiB upload limit of these tests, over the 5 MB limit of a chat
    data = b"Customer: " + b"too long " * 566_000
    assert 5_000_000 < len(data) < settings.storage.max_upload_mb << 20
    for name, form in (("big.txt", {}), ("big.bin", {"channel": "chat"})):
        refused = upload(client, name, data, **form)
        assert refused.status_code == 413, refused.text
        body = refused.json()
        assert body["code"] == "E008_too_large"
        assert "the 5 MB limit for a chat" in body["message"]
        assert body["details"]["limit_bytes"] == 5_000_000
    assert stored_files(settings) == []
    assert client.get("/v1/conversations").json() == []


def test_an_email_over_its_limit_is_refused_at_upload(tmp_path):
    settings = make_settings(tmp_path / "var")
    settings.email.max_mb = 1
    email = (
        b"From: kim@contoso.example\nTo: support@hamsu.example\nSubject: logs\n\n"
        + b"The router log follows.\n" * 60_000
    )
    with TestClient(create_app(settings, start_worker=False)) as client:
        client.headers["Authorization"] = f"Bearer {make_key(settings, 'admin')}"
        refused = upload(client, "logs.eml", email)
        assert refused.status_code == 413, refused.text
        assert "the 1 MB limit for an email" in refused.json()["message"]
        assert refused.json()["details"]["limit_bytes"] == 1 << 20
        assert stored_files(settings) == []
        # the same limit holds for a file stored before it was lowered, in the worker
        settings.email.max_mb = 2
        accepted = upload(client, "logs.eml", email)
        assert accepted.status_code == 202
        settings.email.max_mb = 1
        drain(client)
        failed = client.get(f"/v1/conversations/{accepted.json()['id']}/status").json()
        assert failed["error"]["code"] == "E008_too_large"
        assert "the 1 MB limit for an email" in failed["error"]["message"]


def test_an_empty_upload_is_refused_and_leaves_nothing_in_storage(client, settings):
    refused = upload(client, "empty.txt", b"")
    assert refused.status_code == 400
    assert refused.json()["code"] == "E001_empty_file"
    assert "0 bytes" in refused.json()["message"]
    assert stored_files(settings) == []


def test_a_failed_conversation_is_retried_by_uploading_it_again(client):
    first = upload(client, "c.json", b'{"messages": [')
    assert first.status_code == 202
    conversation_id = first.json()["id"]
    drain(client)
    status = client.get(f"/v1/conversations/{conversation_id}/status").json()
    assert status["status"] == "failed" and status["attempts"] == 1

    again = upload(client, "c.json", b'{"messages": [')
    assert again.status_code == 202, again.text
    assert again.json() == {
        "id": conversation_id,
        "status": "queued",
        "duplicate": False,
        "url": f"/v1/conversations/{conversation_id}",
    }
    status = client.get(f"/v1/conversations/{conversation_id}/status").json()
    assert (status["status"], status["attempts"], status["error"]) == ("queued", 0, None)
    drain(client)
    status = client.get(f"/v1/conversations/{conversation_id}/status").json()
    assert (status["status"], status["attempts"]) == ("failed", 1)
    assert status["error"]["code"] == "E006_malformed_chat"
    assert [c["id"] for c in client.get("/v1/conversations").json()] == [conversation_id]


def test_a_retry_takes_the_new_uploads_options(client):
    """A chat named .wav fails as audio; uploaded again with channel=chat it is analyzed."""
    chat = b"Agent: How can I help?\nCustomer: You charged me twice and I want to cancel.\n"
    first = upload(client, "chat.wav", chat)
    drain(client)
    conversation_id = first.json()["id"]
    assert client.get(f"/v1/conversations/{conversation_id}/status").json()["status"] == "failed"

    again = upload(client, "chat.wav", chat, channel="chat")
    assert again.status_code == 202 and again.json()["id"] == conversation_id
    drain(client)
    body = client.get(f"/v1/conversations/{conversation_id}").json()
    assert (body["status"], body["channel"]) == ("routed", "chat")


def test_a_file_refused_at_upload_is_refused_again_on_retry(client):
    first = upload(client, "call.wav", b"%PDF-1.4 junk")
    again = upload(client, "call.wav", b"%PDF-1.4 junk")
    assert first.status_code == again.status_code == 415
    assert again.json()["details"]["conversation_id"] == first.json()["details"]["conversation_id"]


def test_an_empty_file_among_the_samples_is_skipped_at_start(tmp_path, samples_dir):
    """Empty files are refused before storing now; the sample ingest must skip them, not fail."""
    folder = tmp_path / "samples"
    folder.mkdir()
    (folder / "empty.txt").write_bytes(b"")
    (folder / "en_upsell.json").write_bytes((samples_dir / "chats" / "en_upsell.json").read_bytes())
    settings = make_settings(tmp_path / "var", samples=folder)
    with TestClient(create_app(settings, start_worker=False)) as client:
        client.headers["Authorization"] = f"Bearer {make_key(settings, 'admin')}"
        assert [c["filename"] for c in client.get("/v1/conversations").json()] == ["en_upsell.json"]

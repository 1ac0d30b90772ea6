"""Every error body carries a catalogue code and answers that code's one HTTP status, and an
internal error never shows a client where the server keeps its files."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session

from core.errors import ErrorCode, HamsuError
from models.db import get_engine
from models.tables import Conversation


def _catalogued(response) -> ErrorCode:
    """The body's code, after checking that it is in the catalogue with this status."""
    body = response.json()
    assert set(body) == {"code", "message", "details"}, body
    code = ErrorCode(body["code"])  # ValueError for a code outside the catalogue
    assert response.status_code == HamsuError(code, "").http_status, (code, response.status_code)
    return code


def test_invalid_option_answers_one_status_wherever_it_is_found(client):
    by_service = client.get("/v1/queues/cs/items", params={"cursor": "not-a-cursor"})
    by_schema = client.get("/v1/queues/cs/items", params={"sort": "score"})
    assert _catalogued(by_service) == _catalogued(by_schema) == ErrorCode.INVALID_OPTION
    assert by_service.status_code == by_schema.status_code == 422


def test_what_the_http_layer_answers_carries_a_catalogue_code(client):
    missing = client.get("/v1/no-such-route")
    assert _catalogued(missing) == ErrorCode.NOT_FOUND
    wrong_method = client.delete("/healthz")
    assert _catalogued(wrong_method) == ErrorCode.METHOD_NOT_ALLOWED
    assert "GET" in wrong_method.headers["allow"]
    unreadable = client.post(
        "/v1/conversations",
        content=b"--xyz\r\nnot a part\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert _catalogued(unreadable) == ErrorCode.MALFORMED_REQUEST
    unauthorised = client.get("/v1/conversations", headers={"Authorization": "Bearer hk_wrong"})
    assert _catalogued(unauthorised) == ErrorCode.UNAUTHORIZED


def test_an_internal_error_shows_no_server_path(client, settings, tmp_path):
    chat = tmp_path / "chat.txt"
    chat.write_text("Agent: Hello, how can I help?\nCustomer: My invoice is wrong.\n")
    with chat.open("rb") as fh:
        upload = client.post("/v1/conversations", files={"file": ("chat.txt", fh)})
    assert upload.status_code == 202, upload.text
    conversation_id = upload.json()["id"]
    with Session(get_engine(settings.database_url)) as session:
        row = session.get(Conversation, conversation_id)
        assert row is not None
        stored = Path(row.storage_path)
    stored.unlink()  # the original vanished from the disk (an operator's cleanup, a bad mount)
    client.app.state.worker.run_until_idle()  # type: ignore[attr-defined]

    failed = client.get(f"/v1/conversations/{conversation_id}").json()
    assert failed["status"] == "failed"
    error = failed["error"]
    assert error["code"] == ErrorCode.INTERNAL.value
    for revealing in (str(settings.storage.data_dir), str(stored), "uploads/", str(tmp_path)):
        assert revealing not in error["message"], error["message"]
    assert "<path>" in error["message"]

"""A subscription deleted while one of its deliveries is being sent: the sender drops that
delivery quietly and keeps working the outbox."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import event
from sqlmodel import Session, select

from api.main import create_app
from core.settings import Settings, WebhookSettings
from models.db import get_engine
from models.tables import WebhookAttempt, WebhookDelivery
from routing.events import emit
from tests.api.conftest import make_key, make_settings


class Item(BaseModel):
    id: int


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP receiver that answers 200 and records the paths it was sent."""
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            paths.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", paths
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(tmp_path) -> Settings:
    return make_settings(tmp_path / "var").model_copy(
        update={"webhooks": WebhookSettings(allow_private=["127.0.0.1/32"], timeout_s=5.0)}
    )


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, start_worker=False)) as test_client:
        test_client.headers["Authorization"] = f"Bearer {make_key(settings, 'admin')}"
        yield test_client


def _subscribe(client: TestClient, url: str) -> int:
    response = client.post("/v1/webhooks", json={"url": url, "events": ["queue_item.created"]})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def _emit(settings: Settings, item_id: int) -> None:
    with Session(get_engine(settings.database_url)) as session:
        emit(session, "queue_item.created", Item(id=item_id))
        session.commit()


# the sender's statement before which the admin deletes the subscription: reading the claimed
# delivery back (the claim), or writing the attempt's outcome (after the POST was answered)
MOMENTS = {
    "claim": "SELECT webhookdelivery.id, webhookdelivery.subscription_id",
    "finish": "UPDATE webhookattempt",
}


@pytest.mark.parametrize("moment", sorted(MOMENTS))
def test_deleting_a_subscription_mid_send_is_quiet(client, settings, receiver, moment, caplog):
    base_url, paths = receiver
    doomed = _subscribe(client, f"{base_url}/doomed")
    _emit(settings, 1)
    engine = get_engine(settings.database_url)
    deleted: list[int] = []

    def delete_now(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # the admin's DELETE goes through the real route, on its own connection, between two
        # statements of the sender (the sender holds no write lock at either moment)
        if not deleted and statement.lstrip().startswith(MOMENTS[moment]):
            deleted.append(client.delete(f"/v1/webhooks/{doomed}").status_code)

    sender = client.app.state.webhook_sender  # type: ignore[attr-defined]
    event.listen(engine, "before_cursor_execute", delete_now)
    try:
        with caplog.at_level(logging.WARNING, logger="hamsu.webhooks"):
            sender.run_due()
    finally:
        event.remove(engine, "before_cursor_execute", delete_now)
    assert deleted == [204]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert paths == (["/doomed"] if moment == "finish" else [])
    with Session(engine) as session:
        assert session.exec(select(WebhookDelivery)).all() == []
        assert session.exec(select(WebhookAttempt)).all() == []

    # the sender goes on: the next subscription's delivery goes out and is logged
    kept = _subscribe(client, f"{base_url}/kept")
    _emit(settings, 2)
    assert sender.run_due() == 1
    assert paths[-1] == "/kept"
    [delivery] = client.get(f"/v1/webhooks/{kept}/deliveries").json()["deliveries"]
    assert delivery["status"] == "succeeded"

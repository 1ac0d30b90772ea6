"""The scaled topology, run for real: the API with `HAMSU_WORKER__BACKEND=celery` on PostgreSQL,
a `hamsu worker` process on Redis, uploads processed in two stages on two queues, duplicate
deliveries doing nothing, and the worker leaving promptly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from api.main import create_app
from core.settings import (
    BrokerSettings,
    DatabaseSettings,
    Settings,
    WebhookSettings,
    WorkerSettings,
)
from models.db import get_engine
from models.tables import Insight, QueueItem, Turn, WebhookDelivery
from pipeline.tasks import ANALYZE_TASK, QUEUES, TRANSCRIBE_TASK, make_celery
from tests.api.conftest import make_key, make_settings
from tests.databases import postgres_database_url, postgres_unreachable

# a Redis database of its own, emptied first, so nothing else's messages mix in
BROKER = os.environ.get("HAMSU_TEST_BROKER", "redis://127.0.0.1:6379/9")
ROUTED = ("routed", "failed")


def _reachable() -> str | None:
    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {BROKER} is not reachable ({exc})"
    return postgres_unreachable()


pytestmark = pytest.mark.skipif(
    _reachable() is not None and not os.environ.get("HAMSU_TEST_REQUIRE_SERVICES"),
    reason=f"{_reachable()}; .ci/run starts it and sets HAMSU_TEST_REQUIRE_SERVICES",
)


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Any]]:
    redis.Redis.from_url(BROKER).flushdb()
    data_dir = tmp_path_factory.mktemp("celery") / "var"
    settings = make_settings(data_dir).model_copy(
        update={
            "database": DatabaseSettings(url=postgres_database_url()),
            "worker": WorkerSettings(backend="celery"),
            "broker": BrokerSettings(url=BROKER),
            "webhooks": WebhookSettings(allow_private=["127.0.0.1/32"]),
        }
    )
    env = {
        **os.environ,
        "HAMSU_WORKER__BACKEND": "celery",
        "HAMSU_BROKER__URL": BROKER,
        "HAMSU_DATABASE__URL": settings.database_url,
        "HAMSU_STORAGE__DATA_DIR": str(data_dir),
        "PYTHONUNBUFFERED": "1",
    }
    log = (data_dir.parent / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker", "--queues", "transcribe,analyze"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    yield settings, worker
    if worker.poll() is None:
        worker.kill()
        worker.wait()
    log.close()


def _wait_for(client: TestClient, conversation_id: str, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/v1/conversations/{conversation_id}").json()
        if body["status"] in ROUTED:
            return body  # type: ignore[no-any-return]
        time.sleep(0.5)
    raise AssertionError(f"conversation {conversation_id} still {body['status']}")


def _wait_until_drained(timeout: float = 120) -> None:
    """Every message taken and acknowledged: both queues empty, nothing held by a worker."""
    broker = redis.Redis.from_url(BROKER)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = sum(broker.llen(queue) for queue in QUEUES) + broker.hlen("unacked")
        if waiting == 0:
            return
        time.sleep(0.5)
    raise AssertionError("the worker did not take the duplicate deliveries")


def _counts(settings: Settings, conversation_id: str) -> tuple[int, ...]:
    with Session(get_engine(settings.database_url)) as session:
        return tuple(
            session.exec(
                select(func.count())
                .select_from(table)
                .where(table.conversation_id == conversation_id)
            ).one()
            for table in (Turn, Insight, QueueItem)
        ) + (session.exec(select(func.count()).select_from(WebhookDelivery)).one(),)


def test_uploads_are_processed_by_a_worker_process_once(topology, samples_dir):
    settings, worker = topology
    files = [
        samples_dir / "chats" / "fa_churn.txt",
        samples_dir / "emails" / "en_unmet_promise.eml",
    ]
    with TestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {make_key(settings, 'admin')}"
        # a receiver that is down: deliveries are recorded (and retried), one per event
        hook = {"url": "http://127.0.0.1:9/hamsu", "events": ["queue_item.created"]}
        assert client.post("/v1/webhooks", json=hook).status_code == 201
        ids = []
        for path in files:
            with path.open("rb") as fh:
                response = client.post("/v1/conversations", files={"file": (path.name, fh)})
            assert response.status_code == 202, response.text
            ids.append(response.json()["id"])
        bodies = [_wait_for(client, conversation_id) for conversation_id in ids]
        assert [b["status"] for b in bodies] == ["routed", "routed"], bodies
        assert {"churn_risk", "unmet_expectation"} <= {
            i["kind"] for b in bodies for i in b["insights"]
        }
        assert all(b["routes"] and b["turns"] for b in bodies)
        before = [_counts(settings, conversation_id) for conversation_id in ids]
        assert all(turns and insights and items for turns, insights, items, _ in before)
        assert before[-1][-1] >= 1, "queue_item.created deliveries were recorded"

        # the broker delivers at least once: both stages delivered again change nothing
        app = make_celery(settings)
        for conversation_id in ids:
            app.send_task(TRANSCRIBE_TASK, args=[conversation_id])
            app.send_task(ANALYZE_TASK, args=[conversation_id])
        _wait_until_drained()
        assert [_counts(settings, conversation_id) for conversation_id in ids] == before
        statuses = [client.get(f"/v1/conversations/{i}").json()["status"] for i in ids]
        assert statuses == ["routed", "routed"]
    assert worker.poll() is None, "the worker is still serving"


def test_the_worker_leaves_within_30_s_of_sigterm(topology):
    _, worker = topology
    assert worker.poll() is None
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    worker.wait(timeout=45)
    assert time.monotonic() - started < 30

"""Readiness and Prometheus metrics, against the real database and broker."""

from __future__ import annotations

import os

import pytest
import redis
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.main import create_app
from core.settings import BrokerSettings, WorkerSettings
from tests.api.conftest import make_settings
from tests.api.test_conversations import drain, upload

BROKER = os.environ.get("HAMSU_TEST_BROKER", "redis://127.0.0.1:6379/9")


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_ready_with_the_embedded_worker_needs_only_the_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "broker": "not used"},
    }


def test_not_ready_names_the_broker_that_is_down(tmp_path):
    settings = make_settings(tmp_path / "var").model_copy(
        update={
            "worker": WorkerSettings(backend="celery"),
            "broker": BrokerSettings(url="redis://127.0.0.1:1/0"),  # nothing listens there
        }
    )
    with TestClient(create_app(settings, start_worker=False)) as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready" and body["checks"]["database"] == "ok"
    assert body["checks"]["broker"] not in ("ok", "not used")


def test_ready_with_a_broker_that_answers(tmp_path):
    try:
        redis.Redis.from_url(BROKER, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if not os.environ.get("HAMSU_TEST_REQUIRE_SERVICES"):
            pytest.skip(f"Redis at {BROKER} is not reachable ({exc})")
        raise
    settings = make_settings(tmp_path / "var").model_copy(
        update={"worker": WorkerSettings(backend="celery"), "broker": BrokerSettings(url=BROKER)}
    )
    with TestClient(create_app(settings, start_worker=False)) as client:
        response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_metrics_count_conversations_queues_and_stage_times(client, samples_dir):
    before = samples(client.get("/metrics").text)
    upload(client, samples_dir / "chats" / "fa_churn.txt")
    upload(client, samples_dir / "chats" / "en_upsell.json")
    drain(client)
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)
    assert after[("hamsu_conversations", (("status", "routed"),))] == 2
    assert after[("hamsu_queue_depth", (("queue", "cs"),))] >= 1
    assert after[("hamsu_queue_depth", (("queue", "sales"),))] >= 1
    stage = ("hamsu_stage_seconds_count", (("stage", "whole"),))
    assert after[stage] - before.get(stage, 0) == 2

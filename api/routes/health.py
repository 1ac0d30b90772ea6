"""Liveness (`/healthz`), readiness (`/readyz`) and Prometheus metrics (`/metrics`): for load
balancers, orchestrators and monitoring; no key needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from kombu import Connection
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import text
from sqlmodel import func, select

from api.deps import SessionDep, SettingsDep
from api.schemas.health import Health, Readiness
from models.tables import Conversation

router = APIRouter(tags=["health"])
# seconds a readiness check waits for the broker
BROKER_TIMEOUT_S = 3


@router.get("/healthz", response_model=Health)
def healthz(session: SessionDep) -> dict[str, Any]:
    """Liveness plus how much work is waiting, by status."""
    rows = session.exec(
        select(Conversation.status, func.count()).group_by(Conversation.status)
    ).all()
    return {"status": "ok", "conversations": {status: n for status, n in rows}}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "the database or the broker is down"}},
)
def readyz(session: SessionDep, settings: SettingsDep) -> Any:
    """Ready to take uploads: the database answers, and the broker does when jobs go to Celery
    workers. 503 names what failed."""
    checks = {"database": "ok", "broker": "not used"}
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach it is the answer, not an error
        checks["database"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    if settings.worker.backend == "celery":
        try:
            with Connection(settings.broker.url, connect_timeout=BROKER_TIMEOUT_S) as broker:
                broker.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT_S)
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"{type(exc).__name__}: {exc}".splitlines()[0]
    ready = all(v in ("ok", "not used") for v in checks.values())
    body = Readiness(status="ready" if ready else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get("/metrics", response_class=Response, include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text format: this process's stage durations and model load times, and the
    deployment's conversations, failures, queue depth and webhook deliveries."""
    own = generate_latest(REGISTRY)
    deployment = generate_latest(request.app.state.metrics)
    return Response(own + deployment, media_type=CONTENT_TYPE_LATEST)

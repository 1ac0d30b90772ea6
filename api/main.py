"""The FastAPI application: routes, one error envelope, the embedded worker, first-start samples."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import DataError, OperationalError
from sqlmodel import Session, select
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import PREFIX_LENGTH, bootstrap_admin_key
from api.metrics import DatabaseCollector
from api.routes import accounts, conversations, health, queues, reviews, webhooks
from api.ui import STATIC_DIR
from api.ui import routes as ui
from core.errors import ErrorCode, HamsuError, code_for_http_status
from core.settings import Settings, get_settings
from models.db import get_engine
from models.tables import Conversation
from pipeline.analyze import AnalyzeOptions
from pipeline.jobs import submit
from pipeline.store import store_original
from pipeline.worker import JobRunner, Worker
from routing.webhooks import WebhookSender

log = logging.getLogger("hamsu")
SAMPLE_SUFFIXES = {
    ".wav",
    ".mp3",
    ".ogg",
    ".opus",
    ".flac",
    ".m4a",
    ".webm",
    ".eml",
    ".json",
    ".txt",
}


def ingest_samples(settings: Settings) -> int:
    """Queue the bundled samples when the database is new, so the queues show something."""
    folder = settings.server.samples_dir
    if not folder.is_dir():
        return 0
    engine = get_engine(settings.database_url)
    added = 0
    with Session(engine) as session:
        if session.exec(select(Conversation.id).limit(1)).first() is not None:
            return 0
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in SAMPLE_SUFFIXES or ".script" in path.name:
                continue
            try:
                with path.open("rb") as fh:
                    stored = store_original(
                        fh,
                        path.name,
                        settings.storage.data_dir,
                        settings.storage.max_upload_mb << 20,
                    )
            except HamsuError:  # an empty file is refused before storing; skip it, not the start
                continue
            account = f"Sample {path.stem}"  # one account per sample: nothing merges across them
            with suppress(HamsuError):
                submit(
                    session,
                    stored=stored,
                    filename=path.name,
                    options=AnalyzeOptions(account=account),
                )
                added += 1
    log.info("queued %d sample conversations from %s", added, folder)
    return added


def job_runner(settings: Settings) -> JobRunner:
    """The embedded worker, or with `HAMSU_WORKER__BACKEND=celery` a dispatch to Celery workers."""
    if settings.worker.backend == "celery":
        from pipeline.tasks import CeleryDispatch

        return CeleryDispatch(settings)
    return Worker(settings)


def create_app(settings: Settings | None = None, *, start_worker: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = get_engine(settings.database_url)
        if settings.auth.enabled and settings.auth.bootstrap_admin:
            with Session(engine) as session:
                key = bootstrap_admin_key(session, settings.storage.data_dir)
            if key:
                # stdout ends up in log files: show which key it is, never the key itself
                path = settings.storage.data_dir / "admin-key.txt"
                print(
                    f"\n  Hamsu created an admin API key {key[:PREFIX_LENGTH]}…; the whole key is"
                    f" in {path} (mode 600)\n",
                    flush=True,
                )
        if settings.server.ingest_samples:
            ingest_samples(settings)
        if start_worker:
            app.state.worker.start()
            app.state.webhook_sender.start()
        yield
        # one deadline for both: their threads are asked to stop first, then joined
        deadline = time.monotonic() + settings.server.worker_stop_s
        app.state.webhook_sender.stop(timeout=settings.server.worker_stop_s / 2)
        app.state.worker.stop(timeout=max(0.0, deadline - time.monotonic()))

    app = FastAPI(
        title="Hamsu",
        version="0.1.0",
        summary="Conversation intelligence for contact centers, in Persian and English",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.worker = job_runner(settings)
    app.state.webhook_sender = WebhookSender(settings)
    app.state.metrics = CollectorRegistry()
    app.state.metrics.register(DatabaseCollector(settings.database_url))

    @app.exception_handler(HamsuError)
    async def hamsu_error(_request: Request, exc: HamsuError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        body = HamsuError(ErrorCode.INVALID_OPTION, "; ".join(problems))
        return JSONResponse(
            body.to_dict() | {"details": {"errors": problems}}, status_code=body.http_status
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # what the HTTP layer answers by itself (no route, wrong method, an unreadable body) gets
        # a catalogue code too, and that code's status, so code and status always agree
        body = HamsuError(code_for_http_status(exc.status_code), str(exc.detail))
        return JSONResponse(body.to_dict(), status_code=body.http_status, headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        body = HamsuError(ErrorCode.INTERNAL, f"internal error: {type(exc).__name__}")
        return JSONResponse(body.to_dict(), status_code=500)

    @app.exception_handler(DataError)
    async def unstorable_value(_request: Request, exc: DataError) -> JSONResponse:
        # a value the database refuses (PostgreSQL: a NUL character in text, a number out of
        # range): the request was wrong, nothing was written
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        body = HamsuError(ErrorCode.INVALID_OPTION, f"a value the database cannot store: {reason}")
        return JSONResponse(body.to_dict(), status_code=body.http_status)

    @app.exception_handler(OperationalError)
    async def database_error(request: Request, exc: OperationalError) -> JSONResponse:
        if "database is locked" not in str(exc.orig):
            return await unexpected(request, exc)
        # another writer held SQLite past the busy timeout: nothing was written, the client retries
        body = HamsuError(
            ErrorCode.DATABASE_BUSY,
            "the database was busy with another write and this change was not saved; "
            "retry in a moment",
        )
        return JSONResponse(
            body.to_dict(), status_code=body.http_status, headers={"Retry-After": "2"}
        )

    app.include_router(health.router)
    app.include_router(conversations.router)
    app.include_router(queues.router)
    app.include_router(reviews.router)
    app.include_router(accounts.router)
    app.include_router(webhooks.router)
    app.include_router(ui.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app

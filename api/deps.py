"""FastAPI dependencies: settings, a database session per request, the worker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlmodel import Session

from core.settings import Settings
from models.db import get_engine
from pipeline.worker import Worker


def get_app_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    with Session(get_engine(settings.database_url)) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_worker(request: Request) -> Worker:
    return request.app.state.worker  # type: ignore[no-any-return]


WorkerDep = Annotated[Worker, Depends(get_worker)]

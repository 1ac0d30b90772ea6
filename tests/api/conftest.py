from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.auth import create_key
from api.main import create_app
from core.settings import DatabaseSettings, ServerSettings, Settings, StorageSettings
from models.db import get_engine
from tests.databases import database_url


def make_settings(data_dir: Path, *, samples: Path | None = None) -> Settings:
    return Settings(
        storage=StorageSettings(data_dir=data_dir, max_upload_mb=5),
        database=DatabaseSettings(url=database_url(data_dir)),
        server=ServerSettings(
            ingest_samples=samples is not None, samples_dir=samples or Path("none")
        ),
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "var")


def make_key(settings: Settings, role: str, name: str | None = None) -> str:
    with Session(get_engine(settings.database_url)) as session:
        return create_key(session, name=name or role, role=role)[1]


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app without background threads, as an admin; tests drain the queue with
    run_until_idle()."""
    app = create_app(settings, start_worker=False)
    with TestClient(app) as test_client:
        test_client.headers["Authorization"] = f"Bearer {make_key(settings, 'admin')}"
        yield test_client

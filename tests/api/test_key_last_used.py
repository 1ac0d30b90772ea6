"""`ApiKey.last_used_at` is written at most once per few minutes per key, so reads stay reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.db import get_engine
from models.tables import ApiKey, aware, utcnow

LAST_USED_EVERY = timedelta(minutes=5)  # api.auth.LAST_USED_EVERY


@pytest.fixture
def key_writes(settings) -> Iterator[list[str]]:
    """Every UPDATE of the apikey table the service sends, as SQL text."""
    engine: Engine = get_engine(settings.database_url)
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE APIKEY"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def _last_used(settings) -> Any:
    with Session(get_engine(settings.database_url)) as session:
        return aware(session.exec(select(ApiKey.last_used_at).where(ApiKey.name == "admin")).one())


def test_a_burst_of_reads_writes_last_used_once(client, settings, key_writes):
    for _ in range(25):
        assert client.get("/v1/conversations").status_code == 200
    assert len(key_writes) == 1
    first = _last_used(settings)
    assert first is not None and utcnow() - first < LAST_USED_EVERY


def test_a_stale_last_used_is_written_again(client, settings, key_writes):
    assert client.get("/v1/conversations").status_code == 200
    stale = utcnow() - LAST_USED_EVERY - timedelta(minutes=1)
    with Session(get_engine(settings.database_url)) as session:
        row = session.exec(select(ApiKey).where(ApiKey.name == "admin")).one()
        row.last_used_at = stale
        session.add(row)
        session.commit()
    key_writes.clear()
    for _ in range(3):
        assert client.get("/v1/conversations").status_code == 200
    assert len(key_writes) == 1
    assert _last_used(settings) > stale + timedelta(minutes=1)

"""The database engine. SQLite by default (WAL, so the API reads while the worker writes); the
schema comes from the Alembic migrations, applied when the engine is first made."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import create_engine

from models.migrate import upgrade

# seconds a SQLite write waits for another writer before "database is locked"; a URL may set its
# own (`sqlite:///var/hamsu.db?timeout=5`)
SQLITE_BUSY_TIMEOUT_S = 30


@lru_cache(maxsize=4)
def get_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args: dict[str, object] = {"check_same_thread": False}
        if "timeout" not in parsed.query:
            connect_args["timeout"] = SQLITE_BUSY_TIMEOUT_S
        engine = create_engine(url, connect_args=connect_args)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
    else:
        engine = create_engine(url, pool_pre_ping=True)
    upgrade(engine)
    return engine

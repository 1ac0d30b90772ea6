"""The database engine. SQLite by default (WAL, so the API reads while the worker writes); the
schema comes from the Alembic migrations, applied when the engine is first made."""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import create_engine

from models.migrate import upgrade

# seconds a SQLite write waits for another writer before "database is locked"; a URL may set its
# own (`sqlite:///var/hamsu.db?timeout=5`)
SQLITE_BUSY_TIMEOUT_S = 30

log = logging.getLogger("hamsu.db")


def _owner_only(database: Path) -> None:
    """Make the SQLite file mode 600, as the stored originals are: it holds every transcript.
    SQLite gives the -wal and -shm files it creates the database file's mode, so creating the
    file first is enough for a new database; an older one (and its -wal/-shm) is tightened."""
    if not database.exists():
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
        try:
            if path.exists() and path.stat().st_mode & 0o077:
                path.chmod(0o600)
        except PermissionError:  # someone else's file: still usable, but say so
            log.warning("%s is readable by other users and not ours to chmod", path)


@lru_cache(maxsize=4)
def get_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        if parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            _owner_only(Path(parsed.database))
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

"""The database a test runs on: a fresh SQLite file by default, or, with
`HAMSU_TEST_DATABASE=postgresql` (the second pass of `make test`), a fresh database on the real
PostgreSQL server at `HAMSU_TEST_POSTGRES` (default the local one), dropped when the run ends."""

from __future__ import annotations

import atexit
import os
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

POSTGRES = os.environ.get("HAMSU_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432")
ON_POSTGRES = os.environ.get("HAMSU_TEST_DATABASE", "sqlite") == "postgresql"
_created: list[str] = []


def _admin_conninfo() -> str:
    url = make_url(POSTGRES).set(drivername="postgresql", database="postgres")
    return url.render_as_string(hide_password=False)


def database_url(data_dir: Path) -> str:
    """A database nobody else uses: `hamsu.db` in `data_dir`, or a new PostgreSQL database."""
    if not ON_POSTGRES:
        return f"sqlite:///{data_dir / 'hamsu.db'}"
    return postgres_database_url()


def postgres_unreachable() -> str | None:
    """Why the PostgreSQL server cannot be used, or None."""
    try:
        with psycopg.connect(_admin_conninfo(), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL at {POSTGRES} is not reachable ({str(exc).strip()})"


def postgres_database_url() -> str:
    """A new, empty PostgreSQL database (the scaled topology's tests need one on either pass)."""
    name = f"hamsu_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_admin_conninfo(), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    _created.append(name)
    return make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)


@atexit.register
def _drop_created() -> None:
    if not _created:
        return

    with psycopg.connect(_admin_conninfo(), autocommit=True) as connection:
        for name in _created:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

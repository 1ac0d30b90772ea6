"""The SQLite file holds every transcript: it and its -wal/-shm are mode 600, like the stored
originals, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from models.db import get_engine

WORLD_READABLE_UMASK = 0o022  # the usual default, under which SQLite makes files 644


@pytest.fixture
def usual_umask() -> Iterator[None]:
    previous = os.umask(WORLD_READABLE_UMASK)
    yield
    os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _files(database: Path) -> list[Path]:
    return [database, Path(f"{database}-wal"), Path(f"{database}-shm")]


def test_a_new_database_and_its_wal_are_owner_only(tmp_path, usual_umask):
    database = tmp_path / "var" / "hamsu.db"
    engine = get_engine(f"sqlite:///{database}")
    with engine.connect() as connection:  # WAL mode: -wal and -shm exist while it is open
        connection.execute(text("CREATE TABLE IF NOT EXISTS probe (x INTEGER)"))
        connection.execute(text("INSERT INTO probe VALUES (1)"))
        connection.commit()
        assert all(path.exists() for path in _files(database))
        assert {path.name: _mode(path) for path in _files(database)} == {
            path.name: 0o600 for path in _files(database)
        }
    engine.dispose()


def test_an_older_world_readable_database_is_tightened(tmp_path, usual_umask):
    database = tmp_path / "hamsu.db"
    database.touch(mode=0o644)
    wal = Path(f"{database}-wal")
    wal.touch(mode=0o644)
    os.chmod(database, 0o644)
    os.chmod(wal, 0o644)
    engine = get_engine(f"sqlite:///{database}")
    assert _mode(database) == 0o600 and _mode(wal) == 0o600
    engine.dispose()

"""The Alembic migrations produce exactly the schema the SQLModel tables describe."""

import os
import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool
from sqlmodel import SQLModel

from models.db import get_engine
from models.migrate import upgrade
from tests.databases import database_url, postgres_database_url, postgres_unreachable


def test_migrations_match_the_models(tmp_path):
    engine = get_engine(database_url(tmp_path))
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == [], f"run: python -m models.migrate revision 'describe the change'\n{diff}"


def test_processes_starting_together_migrate_one_at_a_time():
    """The API and its workers start at once on a new PostgreSQL database: each upgrade waits
    for the one before it, and none fails on a table another just created."""
    reason = postgres_unreachable()
    if reason and not os.environ.get("HAMSU_TEST_REQUIRE_SERVICES"):
        pytest.skip(reason)
    url = postgres_database_url()
    errors: list[BaseException] = []

    def start() -> None:
        try:
            upgrade(create_engine(url, poolclass=NullPool))
        except BaseException as exc:  # the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == []

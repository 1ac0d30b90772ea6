"""The Alembic migrations produce exactly the schema the SQLModel tables describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from models.db import get_engine
from tests.databases import database_url


def test_migrations_match_the_models(tmp_path):
    engine = get_engine(database_url(tmp_path))
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert diff == [], f"run: python -m models.migrate revision 'describe the change'\n{diff}"

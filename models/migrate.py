"""Schema migrations with Alembic: `upgrade(engine)` brings any database to the latest schema.

New revisions: `python -m models.migrate revision "what changed"` (autogenerate against a fresh
SQLite database at the current head).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).parent / "migrations"
# the PostgreSQL advisory lock migrations take (any number the application uses for nothing else)
MIGRATION_LOCK = 0x48414D53


def alembic_config(url: str = "") -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(engine: Engine) -> None:
    config = alembic_config(str(engine.url))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # the API and its workers start together: they migrate one at a time (the lock lasts
            # until this transaction ends), and the later ones find the schema at head
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def new_revision(message: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/head.db"
        config = alembic_config(url)
        command.upgrade(config, "head")
        command.revision(config, message=message, autogenerate=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "revision":
        new_revision(sys.argv[2])
    else:
        sys.exit('usage: python -m models.migrate revision "message"')

"""Test databases on every engine: SQLite files, and throwaway databases on PostgreSQL/MariaDB.

Each engine's schema is built once per test session by ``alembic upgrade head``; each test then
gets either a copy of the migrated SQLite file or an emptied server database.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import delete, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from cloudplane.kit.db import create_engine
from cloudplane.kit.migrate import upgrade_to_head
from cloudplane.models import Base

ALL_ENGINES = ("sqlite", "postgresql", "mariadb")

SERVER_URLS = {
    "postgresql": os.environ.get(
        "CLOUDPLANE_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
    ),
    "mariadb": os.environ.get(
        "CLOUDPLANE_TEST_MARIADB_URL", "mysql+asyncmy://root@127.0.0.1:3306/mysql"
    ),
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """A missing service fails the test in CI and skips it on a developer's machine."""
    if in_ci():
        pytest.fail(f"required service unavailable in CI: {reason}")
    pytest.skip(reason)


class ServerDatabase:
    """A database created for this test session on a PostgreSQL or MariaDB server."""

    def __init__(self, engine_name: str) -> None:
        self.engine_name = engine_name
        self.name = f"cloudplane_test_{uuid.uuid4().hex[:10]}"
        self.admin_url = SERVER_URLS[engine_name]
        self.url = (
            make_url(self.admin_url).set(database=self.name).render_as_string(hide_password=False)
        )

    async def create(self) -> None:
        admin = create_engine(self.admin_url)
        try:
            async with admin.connect() as connection:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                await connection.execute(text(f"CREATE DATABASE {self.name}"))
        finally:
            await admin.dispose()
        engine = create_engine(self.url)
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()

    async def drop(self) -> None:
        admin = create_engine(self.admin_url)
        try:
            async with admin.connect() as connection:
                connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
                force = " WITH (FORCE)" if self.engine_name == "postgresql" else ""
                await connection.execute(text(f"DROP DATABASE IF EXISTS {self.name}{force}"))
        finally:
            await admin.dispose()


async def empty_all_tables(engine: AsyncEngine) -> None:
    """Delete every row, children before parents, keeping the schema."""
    async with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            await connection.execute(delete(table))


class SqliteTemplate:
    """A migrated SQLite file that each test copies instead of migrating again."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "template.db"

    async def create(self) -> None:
        engine = create_engine(f"sqlite+aiosqlite:///{self.path}")
        try:
            await upgrade_to_head(engine)
        finally:
            await engine.dispose()

    def copy_to(self, directory: Path) -> str:
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / "cloudplane.db"
        shutil.copyfile(self.path, target)
        return f"sqlite+aiosqlite:///{target}"

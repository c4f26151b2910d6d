"""Throwaway PostgreSQL databases on the local server (user ``postgres``, trust auth)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

SERVER_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432"


async def _execute_autocommit(statement: str) -> None:
    engine = create_async_engine(
        f"{SERVER_URL}/postgres", isolation_level="AUTOCOMMIT", connect_args={"timeout": 3}
    )
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def postgres_reachable() -> bool:
    """Whether the local PostgreSQL answers (within a few seconds)."""
    try:
        asyncio.run(_execute_autocommit("SELECT 1"))
    except Exception:
        return False
    return True


@contextmanager
def throwaway_database() -> Iterator[str]:
    """A new empty database's SQLAlchemy URL; the database is dropped afterwards."""
    name = f"cloudplane_bench_{secrets.token_hex(4)}"
    asyncio.run(_execute_autocommit(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{SERVER_URL}/{name}"
    finally:
        asyncio.run(_execute_autocommit(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

"""Database plumbing: the declarative base, column types, engines and sessions.

Every engine stores times as UTC. ``UtcDateTime`` hands back timezone-aware values on all three
engines (SQLite and MariaDB drop the zone). Soft-deleted rows keep ``deleted_at`` and get their own
id in ``deleted_key`` so that unique constraints over ``(…, deleted_key)`` cover only live rows on
every engine, MariaDB included (it has no partial indexes).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, String, event
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine

from cloudplane.kit.clock import utcnow
from cloudplane.kit.sqlite_driver import BEGIN_WRITE, sqlite_dbapi

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

LIVE = ""
"""``deleted_key`` of a row that is not deleted."""


def new_id() -> str:
    """A fresh resource id (UUID4 as a string)."""
    return str(uuid.uuid4())


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and always read back timezone-aware."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        # MySQL/MariaDB DATETIME keeps whole seconds unless told otherwise; ordering and keyset
        # pagination by time need microseconds.
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=False))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass a UTC-aware value")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base with the project's constraint naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def id_column() -> Mapped[str]:
    return mapped_column(String(36), primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=False)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class SoftDeleteMixin:
    """Rows that are hidden, not removed, when deleted."""

    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    deleted_key: Mapped[str] = mapped_column(String(36), default=LIVE, server_default=LIVE)

    def mark_deleted(self, row_id: str) -> None:
        """Soft-delete: frees the row's unique names for new live rows."""
        self.deleted_at = utcnow()
        self.deleted_key = row_id


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _is_mysql(url: str) -> bool:
    return url.startswith(("mysql", "mariadb"))


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine tuned for its backend.

    SQLite runs in WAL mode with a busy timeout; transactions that will write take the write lock
    up front (``BEGIN IMMEDIATE``), because a deferred transaction that reads and then writes fails
    with SQLITE_BUSY instead of waiting when another writer committed in between. Its DBAPI is
    ``kit.sqlite_driver``: reads on the event loop, writers queued in the process. MariaDB runs
    READ COMMITTED so a count taken after a row lock sees rows committed before the lock.
    """
    if _is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30}, module=sqlite_dbapi())
        _configure_sqlite(engine)
        return engine
    kwargs: dict[str, Any] = {"pool_size": pool_size, "max_overflow": 20, "pool_pre_ping": True}
    if _is_mysql(url):
        kwargs["isolation_level"] = "READ COMMITTED"
        kwargs["pool_recycle"] = 3600
    return create_async_engine(url, **kwargs)


WRITE_OPTION = "cloudplane_write"


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        immediate = conn.get_execution_options().get(WRITE_OPTION, False)
        # The driver sends it with the transaction's first statement: issued here through
        # SQLAlchemy, a BEGIN costs as much as a small read.
        conn.connection.dbapi_connection.begin_with_next_statement(
            BEGIN_WRITE if immediate else "BEGIN"
        )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


AfterCommit = Callable[[], Awaitable[None]]


def after_commit(session: AsyncSession, callback: AfterCommit) -> None:
    """Run ``callback`` once the session's transaction has committed (never on rollback).

    Used to hand work to the task queue only when the rows it will read exist for everyone.
    """
    session.info.setdefault("after_commit", []).append(callback)


async def commit(session: AsyncSession) -> None:
    """Commit and then run the callbacks registered with ``after_commit``."""
    await session.commit()
    callbacks: list[AfterCommit] = session.info.pop("after_commit", [])
    for callback in callbacks:
        await callback()


def _writer_bind(engine: AsyncEngine) -> AsyncEngine:
    # A light proxy over the same pool (microseconds to make); made per unit of work rather
    # than cached, so an engine that is disposed is not kept alive by a cache.
    return engine.execution_options(**{WRITE_OPTION: True})


@asynccontextmanager
async def unit_of_work(
    sessions: async_sessionmaker[AsyncSession], *, write: bool = False
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success (then after-commit callbacks), roll back on error."""
    bind = sessions.kw["bind"]
    # Writers start with SQLite's write lock, taken lazily at the first statement so that
    # nothing holds it while the request is still authenticating.
    async with sessions(bind=_writer_bind(bind) if write else bind) as session:
        try:
            yield session
            await commit(session)
        except BaseException:
            session.info.pop("after_commit", None)
            await session.rollback()
            raise

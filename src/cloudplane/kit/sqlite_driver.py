"""SQLite under the async engine, tuned for one process that both reads and writes a lot.

SQLAlchemy's aiosqlite adapter sends every step of a statement (open a cursor, execute, fetch,
close) to the connection's own thread and back: four hand-offs, each paying a wake-up and a
wait for the GIL. This adapter keeps aiosqlite's thread per connection but changes three things:

- **Reads run on the event loop.** In WAL mode a ``SELECT`` or a deferred ``BEGIN`` never waits
  for another connection's lock, so it runs in place (SQLite releases the GIL while it works);
  only statements that may wait for the write lock, or write, go to the connection's thread,
  and then as one hand-off that executes, fetches and closes the cursor together.
- **Writers queue in the process, not in SQLite's busy handler.** SQLite's busy handler polls
  with sleeps of up to 100 ms, so writers that collide wait far longer than the lock is held.
  ``BEGIN IMMEDIATE`` first takes the process's ``WriteQueue`` for the database (handed over
  the moment the holder commits), so inside one process SQLite's lock is then free; it is
  taken in place, and only when another process holds it does the connection's thread wait,
  under the busy timeout. A holder of the lock waits for nobody, so its statements and its
  commit run in place too: the transaction never gives up the event loop while it holds the
  lock, and holds it only as long as its own work takes.
- **BEGIN travels with the first statement.** ``begin_with_next_statement`` only notes it, so
  it costs no round through SQLAlchemy, and a transaction that runs nothing opens nothing.
- **Nothing to end costs nothing.** ``commit``/``rollback`` outside a transaction (the pool's
  reset on return, a read's end) do not leave the event loop.

It relies on aiosqlite's ``Connection._execute`` and ``_conn`` (the one place to run a function
on the connection's thread), which the lock file pins.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

import aiosqlite
from sqlalchemy.connectors.asyncio import AsyncAdapt_dbapi_connection
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

from cloudplane.kit.write_queue import WriteQueue

BEGIN_WRITE = "BEGIN IMMEDIATE"

_T = TypeVar("_T")

_Outcome = tuple[Any, int, int | None, list[Any] | None]
"""description, rowcount, lastrowid and the rows of one executed statement."""

_write_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, WriteQueue]] = (
    weakref.WeakKeyDictionary()
)


def _write_queue(database: str) -> WriteQueue:
    """The in-process queue for ``database``'s write lock, one per event loop."""
    per_loop = _write_queues.setdefault(asyncio.get_running_loop(), {})
    queue = per_loop.get(database)
    if queue is None:
        queue = per_loop[database] = WriteQueue()
    return queue


def _runs_in_place(operation: str) -> bool:
    """Whether a statement can never wait for another connection (WAL mode)."""
    head = operation.lstrip()[:6].upper()
    return head == "SELECT" or operation == "BEGIN"


def _run(connection: sqlite3.Connection, operation: str, parameters: Any) -> _Outcome:
    cursor = connection.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


async def _call_in_place(
    function: Callable[..., _T], connection: sqlite3.Connection, *args: Any
) -> _T:
    return function(connection, *args)


async def _end_in_place(end: Any, connection: sqlite3.Connection) -> None:
    end(connection)


def _try_begin_write(connection: sqlite3.Connection, busy_timeout_s: float) -> _Outcome | None:
    """``BEGIN IMMEDIATE`` without waiting; None when another process holds the write lock."""
    connection.execute("PRAGMA busy_timeout=0")
    try:
        return _run(connection, BEGIN_WRITE, None)
    except sqlite3.OperationalError as exc:
        if "locked" not in str(exc) and "busy" not in str(exc):
            raise
        return None
    finally:
        connection.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")


def _run_many(connection: sqlite3.Connection, operation: str, rows: Sequence[Any]) -> _Outcome:
    cursor = connection.cursor()
    try:
        cursor.executemany(operation, rows)
        return cursor.description, cursor.rowcount, cursor.lastrowid, None
    finally:
        cursor.close()


class SqliteCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor: each statement is executed, fetched and closed in one step."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: AsyncAdapt_dbapi_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        connection: SqliteConnection = self._adapt_connection  # type: ignore[assignment]
        try:
            self._take(connection.run(operation, parameters))
        except Exception as error:
            connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        connection: SqliteConnection = self._adapt_connection  # type: ignore[assignment]
        try:
            self._take(connection.run_many(operation, seq_of_parameters))
        except Exception as error:
            connection._handle_exception(error)

    def _take(self, outcome: _Outcome) -> None:
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows) if rows else collections.deque()

    async def _async_soft_close(self) -> None:
        """Nothing to do: the SQLite cursor was closed when the statement was fetched."""

    def close(self) -> None:
        self._rows.clear()


class SqliteConnection(AsyncAdapt_aiosqlite_connection):
    """aiosqlite's connection with the placement rules of this module."""

    __slots__ = ("_busy_timeout_s", "_database", "_holds_write_lock", "_pending_begin", "_wrote")

    _cursor_cls = SqliteCursor

    def __init__(
        self, dbapi: Any, connection: aiosqlite.Connection, database: str, busy_timeout_s: float
    ) -> None:
        super().__init__(dbapi, cast(Any, connection))
        self._database = database
        self._busy_timeout_s = busy_timeout_s
        self._holds_write_lock: WriteQueue | None = None
        self._wrote = False
        self._pending_begin: str | None = None

    def begin_with_next_statement(self, begin: str) -> None:
        """Open a transaction with ``begin`` (``BEGIN`` or ``BEGIN IMMEDIATE``) just before
        the next statement runs; its errors are then that statement's errors."""
        self._pending_begin = begin

    def run(self, operation: str, parameters: Any) -> _Outcome:
        """Execute one statement where it belongs (see the module docstring)."""
        self._open_pending_transaction()
        if self._holds_write_lock is not None or _runs_in_place(operation):
            return self._in_place(_run, operation, parameters)
        if operation == BEGIN_WRITE:
            return self._begin_write()
        return self._on_thread(_run, operation, parameters)

    def run_many(self, operation: str, rows: Sequence[Any]) -> _Outcome:
        self._open_pending_transaction()
        if self._holds_write_lock is not None:
            return self._in_place(_run_many, operation, rows)
        return self._on_thread(_run_many, operation, rows)

    def commit(self) -> None:
        self._end(sqlite3.Connection.commit)

    def rollback(self) -> None:
        self._end(sqlite3.Connection.rollback)

    def close(self) -> None:
        self._release_write_lock()
        super().close()

    def terminate(self) -> None:
        self._release_write_lock()
        super().terminate()

    def _open_pending_transaction(self) -> None:
        begin, self._pending_begin = self._pending_begin, None
        if begin is not None:
            self.run(begin, None)

    def _begin_write(self) -> _Outcome:
        """``BEGIN IMMEDIATE``: first the process's queue, then SQLite's lock.

        Inside the process the lock is free once the queue is ours, so the first try runs in
        place without waiting; only when another process holds it does the connection's thread
        wait for it, under the busy timeout.
        """
        self._take_write_lock()
        try:
            outcome = self._in_place(_try_begin_write, self._busy_timeout_s)
            if outcome is None:
                outcome = self._on_thread(_run, BEGIN_WRITE, None)
            return outcome
        except BaseException:
            self._release_write_lock()
            raise

    def _end(self, end: Any) -> None:
        self._pending_begin = None
        try:
            if not self._connection._connection:
                return
            sqlite = self._connection._conn
            if not sqlite.in_transaction:
                return
            if self._wrote and self._holds_write_lock is None:
                # A deferred transaction that wrote: its commit belongs with its writes.
                await_(self._connection._execute(end, sqlite))
            else:
                # Reads hold no lock, and a holder of the write lock waits for nobody.
                await_(_end_in_place(end, sqlite))
        except Exception as error:
            self._handle_exception(error)
        finally:
            self._wrote = False
            self._release_write_lock()

    def _in_place(self, function: Callable[..., _T], *args: Any) -> _T:
        # Awaited, although it never suspends: SQLAlchemy's async layer checks that a statement
        # went through an await, and this costs a greenlet switch, not a hand-off.
        result: _T = await_(_call_in_place(function, self._connection._conn, *args))
        return result

    def _on_thread(self, function: Any, *args: Any) -> _Outcome:
        self._wrote = True
        sqlite = self._connection._conn
        outcome: _Outcome = await_(self._connection._execute(function, sqlite, *args))
        return outcome

    def _take_write_lock(self) -> None:
        if self._holds_write_lock is not None:
            return
        lock = _write_queue(self._database)
        try:
            await_(asyncio.wait_for(lock.acquire(), timeout=self._busy_timeout_s))
        except TimeoutError as exc:
            raise sqlite3.OperationalError("database is locked") from exc
        self._holds_write_lock = lock

    def _release_write_lock(self) -> None:
        lock, self._holds_write_lock = self._holds_write_lock, None
        if lock is not None:
            lock.release()


class SqliteDbapi(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module handed to SQLAlchemy: aiosqlite connections wrapped as above."""

    def connect(self, *arg: Any, **kw: Any) -> SqliteConnection:
        database = str(arg[0] if arg else kw["database"])
        busy_timeout_s = float(kw.get("timeout", 5.0))
        # Reads run on the event loop's thread, writes on the connection's own: sqlite3 must
        # allow both (SQLAlchemy never runs two statements on one connection at once).
        kw["check_same_thread"] = False
        connection = aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True
        return SqliteConnection(self, await_(connection), database, busy_timeout_s)


def sqlite_dbapi() -> SqliteDbapi:
    """A fresh DBAPI module object for one engine."""
    return SqliteDbapi(aiosqlite, sqlite3)

"""The SQLite driver: reads in place, writers queued in the process, other processes waited for."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from cloudplane.kit.db import create_engine, session_factory, unit_of_work
from cloudplane.kit.write_queue import writes_first


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'probe.db'}")
    async with engine.begin() as setup:
        await setup.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        await setup.execute(text("INSERT INTO counter VALUES (1, 0)"))
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_concurrent_read_modify_write_transactions_lose_no_update(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)

    async def increment() -> None:
        async with unit_of_work(sessions, write=True) as session:
            n = (await session.execute(text("SELECT n FROM counter WHERE id = 1"))).scalar_one()
            await asyncio.sleep(0)  # let the others run between the read and the write
            await session.execute(text("UPDATE counter SET n = :n WHERE id = 1"), {"n": n + 1})

    await asyncio.gather(*(increment() for _ in range(50)))

    async with unit_of_work(sessions) as session:
        assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 50


async def test_a_failed_write_transaction_rolls_back_and_frees_the_lock(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)

    async def failing_request() -> None:
        async with unit_of_work(sessions, write=True) as session:
            await session.execute(text("UPDATE counter SET n = 99 WHERE id = 1"))
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        await failing_request()

    async with unit_of_work(sessions, write=True) as session:
        await session.execute(text("UPDATE counter SET n = n + 1 WHERE id = 1"))
    async with unit_of_work(sessions) as session:
        assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 1


async def test_a_writer_waits_for_another_process_holding_the_write_lock(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "probe.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("UPDATE counter SET n = 10 WHERE id = 1")
    sessions = session_factory(engine)

    async def write_after_other() -> None:
        async with unit_of_work(sessions, write=True) as session:
            await session.execute(text("UPDATE counter SET n = n + 1 WHERE id = 1"))

    writer = asyncio.create_task(write_after_other())
    await asyncio.sleep(0.2)
    assert not writer.done()  # still waiting for the other connection, not failed
    # The event loop stays free meanwhile: reads are answered.
    async with unit_of_work(sessions) as session:
        assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 0
    committer = threading.Timer(0.1, other.commit)
    committer.start()
    await asyncio.wait_for(writer, timeout=10)
    committer.join()
    other.close()
    async with unit_of_work(sessions) as session:
        assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 11


async def test_operation_transactions_get_the_lock_before_waiting_requests(
    engine: AsyncEngine,
) -> None:
    sessions = session_factory(engine)
    order: list[str] = []
    holder_in = asyncio.Event()
    release_holder = asyncio.Event()

    async def holder() -> None:
        async with unit_of_work(sessions, write=True) as session:
            await session.execute(text("UPDATE counter SET n = n + 1 WHERE id = 1"))
            holder_in.set()
            await release_holder.wait()

    async def writer(name: str) -> None:
        async with unit_of_work(sessions, write=True) as session:
            await session.execute(text("UPDATE counter SET n = n + 1 WHERE id = 1"))
            order.append(name)

    async def operation_step() -> None:
        with writes_first():
            await writer("operation")

    first = asyncio.create_task(holder())
    await holder_in.wait()
    requests = [asyncio.create_task(writer(f"request-{i}")) for i in range(3)]
    await asyncio.sleep(0.05)  # the requests queue up first
    step = asyncio.create_task(operation_step())
    await asyncio.sleep(0.05)
    release_holder.set()
    await asyncio.gather(first, step, *requests)

    # The requests reached the queue before the operation step, yet it went first.
    assert order[0] == "operation"
    assert sorted(order[1:]) == ["request-0", "request-1", "request-2"]


async def test_a_unit_of_work_reads_one_snapshot_from_its_first_statement(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    sessions = session_factory(engine)
    other = sqlite3.connect(tmp_path / "probe.db", isolation_level=None)
    async with unit_of_work(sessions) as session:
        before = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
        other.execute("UPDATE counter SET n = 5 WHERE id = 1")  # committed at once
        after = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
    other.close()
    assert (before, after) == (0, 0)
    async with unit_of_work(sessions) as session:
        assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 5


async def test_a_writer_holds_the_write_lock_only_from_its_first_statement(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    sessions = session_factory(engine)
    other = sqlite3.connect(tmp_path / "probe.db", isolation_level=None, timeout=0)
    async with unit_of_work(sessions, write=True) as session:
        await session.connection()  # the transaction has begun, but nothing ran yet
        other.execute("UPDATE counter SET n = 7 WHERE id = 1")  # would be "locked" if held
        await session.execute(text("UPDATE counter SET n = n + 1 WHERE id = 1"))
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("UPDATE counter SET n = 0 WHERE id = 1")
    other.close()
    async with unit_of_work(sessions) as session:
        assert (await session.execute(text("SELECT n FROM counter"))).scalar_one() == 8

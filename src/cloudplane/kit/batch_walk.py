"""Walking a whole table in small batches along its primary key, for periodic jobs."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import TypeVarTuple

from sqlalchemy import Row, Select, Table, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloudplane.kit.db import LIVE, unit_of_work

Columns = TypeVarTuple("Columns")


async def walk_in_batches(
    sessions: async_sessionmaker[AsyncSession],
    batch: Select[str, *Columns],
    *,
    batch_size: int,
) -> AsyncIterator[Sequence[Row[str, *Columns]]]:
    """The rows of ``batch``, ``batch_size`` at a time, each batch read in a transaction of
    its own and the event loop given up between batches, so requests are not held up.

    ``batch`` selects the (string) primary key first, orders by it, and takes the bind parameters
    ``after`` (the last key of the previous batch; ``""`` at the start) and ``batch_size``.
    """
    after = ""
    while True:
        async with unit_of_work(sessions) as session:
            rows = (await session.execute(batch, {"after": after, "batch_size": batch_size})).all()
        yield rows
        if len(rows) < batch_size:
            return
        after = rows[-1][0]
        await asyncio.sleep(0)


@functools.cache
def live_statuses(table: Table) -> Select[str, str, datetime]:
    """The ``batch`` that walks ``table``'s live rows as ``(id, status, updated_at)``: what a
    reconciler compares with a backend's listing."""
    columns = table.c
    return (
        select(columns.id, columns.status, columns.updated_at)
        .where(columns.id > bindparam("after"), columns.deleted_key == LIVE)
        .order_by(columns.id)
        .limit(bindparam("batch_size"))
    )

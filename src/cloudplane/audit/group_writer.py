"""Storing audit records in groups: records of concurrent requests share one transaction.

Every mutating request waits until its record is stored before its response starts. Under load
those writes queue for the database (on SQLite for its one write lock); rather than one
transaction each, the records that arrive while a group is waiting for the database or being
written are stored together by the next group (group commit). A record is acknowledged only
after the transaction holding it commits, so a client that reads the trail after a change
finds the change there, as when each record had a transaction of its own.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cloudplane.audit.models import AuditEvent
from cloudplane.kit.db import unit_of_work


@dataclass(slots=True)
class _Pending:
    row: dict[str, Any]
    stored: asyncio.Future[None]


@dataclass(slots=True)
class _Group:
    members: list[_Pending] = field(default_factory=list)


class AuditGroupWriter:
    """Stores audit rows (``audit_events`` column values), a group per transaction.

    Groups are written one at a time, in the order they formed. A group's transaction that
    fails is retried row by row, so one bad record costs only its own request's entry; the
    caller of ``store`` gets its own row's outcome. Lives in one event loop.
    """

    def __init__(self) -> None:
        self._forming: _Group | None = None
        self._one_at_a_time = asyncio.Lock()
        self._writers: set[asyncio.Task[None]] = set()

    async def store(self, sessions: async_sessionmaker[AsyncSession], row: dict[str, Any]) -> None:
        """Return once ``row`` is committed; raise what storing it raised."""
        pending = _Pending(row=row, stored=asyncio.get_running_loop().create_future())
        group = self._forming
        if group is None:
            group = self._forming = _Group()
            writer = asyncio.create_task(self._write(sessions, group))
            self._writers.add(writer)  # a running task must stay referenced
            writer.add_done_callback(self._writers.discard)
        group.members.append(pending)
        await pending.stored

    async def _write(self, sessions: async_sessionmaker[AsyncSession], group: _Group) -> None:
        async with self._one_at_a_time:
            # Rows that arrived while the previous group was written (this one waited for it
            # above) are all in; later ones form the next group.
            self._forming = None
            try:
                async with unit_of_work(sessions, write=True) as session:
                    await session.execute(insert(AuditEvent), [p.row for p in group.members])
            except Exception as exc:
                if len(group.members) == 1:
                    _settle(group.members[0], exc)
                    return
                await self._write_one_by_one(sessions, group.members)
                return
        for pending in group.members:
            _settle(pending, None)

    async def _write_one_by_one(
        self, sessions: async_sessionmaker[AsyncSession], members: list[_Pending]
    ) -> None:
        for pending in members:
            try:
                async with unit_of_work(sessions, write=True) as session:
                    await session.execute(insert(AuditEvent), [pending.row])
            except Exception as exc:
                _settle(pending, exc)
            else:
                _settle(pending, None)


def _settle(pending: _Pending, error: Exception | None) -> None:
    if pending.stored.done():  # its request was cancelled while waiting
        return
    if error is None:
        pending.stored.set_result(None)
    else:
        pending.stored.set_exception(error)

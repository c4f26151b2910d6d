"""Audit records of concurrent requests are committed together, and one bad record alone fails."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from tests.support.api import ApiSession
from tests.support.databases import ALL_ENGINES

from cloudplane.audit.group_writer import AuditGroupWriter
from cloudplane.audit.models import AuditEvent
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import new_id, unit_of_work
from cloudplane.runtime import Runtime


def _row(**values: Any) -> dict[str, Any]:
    return {
        "id": new_id(),
        "at": utcnow(),
        "user_id": None,
        "project_id": None,
        "request_id": "req",
        "method": "POST",
        "path": "/api/v1/things",
        "resource_type": "things",
        "resource_id": None,
        "action": "create",
        "outcome": "success",
        "status_code": 201,
        **values,
    }


async def _stored(runtime: Runtime, ids: list[str]) -> set[str]:
    async with unit_of_work(runtime.sessions) as session:
        found = await session.scalars(select(AuditEvent.id).where(AuditEvent.id.in_(ids)))
        return set(found)


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_twenty_records_stored_at_once_share_one_transaction(admin: ApiSession) -> None:
    runtime = admin.runtime
    writer = AuditGroupWriter()
    rows = [_row(request_id=f"req-{n}") for n in range(20)]
    commits: list[None] = []

    def count(_connection: Any) -> None:
        commits.append(None)

    event.listen(runtime.engine.sync_engine, "commit", count)
    try:
        await asyncio.gather(*(writer.store(runtime.sessions, row) for row in rows))
    finally:
        event.remove(runtime.engine.sync_engine, "commit", count)

    assert len(commits) == 1
    assert await _stored(runtime, [row["id"] for row in rows]) == {row["id"] for row in rows}


async def test_a_record_that_cannot_be_stored_fails_alone(admin: ApiSession) -> None:
    runtime = admin.runtime
    writer = AuditGroupWriter()
    first = _row()
    await writer.store(runtime.sessions, first)
    before, again, after = _row(), dict(first), _row()

    outcomes = await asyncio.gather(
        *(writer.store(runtime.sessions, row) for row in (before, again, after)),
        return_exceptions=True,
    )

    assert outcomes[0] is None
    assert outcomes[2] is None
    assert isinstance(outcomes[1], IntegrityError)
    assert await _stored(runtime, [before["id"], after["id"]]) == {before["id"], after["id"]}
    async with unit_of_work(runtime.sessions) as session:
        count = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.id == first["id"])
        )
    assert count == 1

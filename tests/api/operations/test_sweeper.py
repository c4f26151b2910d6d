"""The sweeper re-sends lost operations and ends the ones past their deadline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from tests.support.api import ApiSession
from tests.support.factories import create_server

from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.operations.models import Operation
from cloudplane.operations.sweeper import fail_overdue_operations, resend_stalled_operations
from cloudplane.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"pending_resend_after_s": 0.0})


async def _hold_back_the_worker(admin: ApiSession) -> object:
    """Detach the queue so new operations stay pending, as if the message were lost."""
    queue = admin.runtime.queue
    admin.runtime.queue = None
    return queue


async def test_an_operation_whose_message_was_lost_is_sent_again(admin: ApiSession) -> None:
    queue = await _hold_back_the_worker(admin)
    server = await create_server(admin)
    admin.runtime.queue = queue  # type: ignore[assignment]
    operation = (await admin.get(f"/operations/{server['operation_id']}")).json()
    assert operation["status"] == "pending"
    assert await resend_stalled_operations(admin.runtime) == 1
    await admin.settle()
    assert (await admin.get(f"/servers/{server['id']}")).json()["status"] == "ACTIVE"
    operation = (await admin.get(f"/operations/{server['operation_id']}")).json()
    assert operation["status"] == "succeeded"


async def test_an_operation_past_its_deadline_fails_and_the_server_shows_a_fault(
    admin: ApiSession,
) -> None:
    queue = await _hold_back_the_worker(admin)
    server = await create_server(admin)
    admin.runtime.queue = queue  # type: ignore[assignment]
    async with unit_of_work(admin.runtime.sessions, write=True) as session:
        await session.execute(
            update(Operation)
            .where(Operation.id == server["operation_id"])
            .values(deadline_at=utcnow() - timedelta(seconds=1))
        )
    assert await fail_overdue_operations(admin.runtime) == 1
    operation = (await admin.get(f"/operations/{server['operation_id']}")).json()
    assert operation["status"] == "failed"
    assert "deadline" in operation["error"]
    shown = (await admin.get(f"/servers/{server['id']}")).json()
    assert shown["status"] == "ERROR"
    assert shown["task_state"] is None
    assert "deadline" in shown["fault"]["message"]

"""A restore in place locks a server's row before its volume's, as a server's delete and a
volume's attach do, so that racing them it waits and never deadlocks."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from tests.api.protection.protection_factories import (
    checkpoint_of,
    create_plan,
    server_with_two_volumes,
    show,
)
from tests.api.storage.storage_factories import show_volume
from tests.support.api import ApiSession

from cloudplane.kit.db import create_engine

_LOCK_WAITS = {
    "postgresql": "SELECT count(*) FROM pg_stat_activity "
    "WHERE wait_event_type = 'Lock' AND datname = current_database()",
    # MariaDB's lock-wait tables are refreshed lazily: a locking statement still running is
    # waiting (nothing else runs meanwhile).
    "mariadb": "SELECT count(*) FROM information_schema.processlist "
    "WHERE command = 'Query' AND id <> connection_id() "
    "AND (info LIKE '%FOR UPDATE' OR info LIKE 'UPDATE %')",
}


async def _until_a_transaction_waits_for_a_lock(connection: AsyncConnection, engine: str) -> None:
    for _ in range(1000):
        if await connection.scalar(text(_LOCK_WAITS[engine])):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no transaction waited for a lock")


@pytest.mark.parametrize("engine_name", ["postgresql", "mariadb"], indirect=True)
async def test_a_restore_in_place_waiting_for_its_servers_row_holds_no_lock_on_the_volume(
    admin: ApiSession, database_url: str, engine_name: str
) -> None:
    server, volume_ids = await server_with_two_volumes(admin)
    plan = await create_plan(admin, [{"type": "volume", "id": volume_ids[1]}])
    checkpoint = await checkpoint_of(admin, plan["id"])
    assert (await admin.post(f"/servers/{server['id']}/stop")).status_code == 202
    await admin.settle()
    engine = create_engine(database_url)
    try:
        async with engine.connect() as holder, engine.connect() as prober:
            holding = await holder.begin()
            await holder.execute(
                text("SELECT id FROM servers WHERE id = :id FOR UPDATE"), {"id": server["id"]}
            )
            started = await admin.post(
                "/protection/restores",
                json={"checkpoint_id": checkpoint["id"], "target": "in_place"},
            )
            assert started.status_code == 202, started.text
            await _until_a_transaction_waits_for_a_lock(prober, engine_name)

            # With the server locked elsewhere, the restore holds nothing the locker may need
            # next: the volume's row is free to lock at once.
            async with engine.begin() as taker:
                free = await taker.scalar(
                    text("SELECT id FROM volumes WHERE id = :id FOR UPDATE NOWAIT"),
                    {"id": volume_ids[1]},
                )
            assert free == volume_ids[1]
            await holding.commit()
            await admin.settle()
    finally:
        await engine.dispose()

    restore = await show(admin, f"/protection/restores/{started.json()['id']}")
    assert restore["status"] == "success", restore
    assert (await show_volume(admin, volume_ids[1]))["status"] == "in-use"
    assert (await show(admin, f"/servers/{server['id']}"))["task_state"] is None

"""A real deadlock is told apart from an outage: it is a retryable collision, not a 503."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy.exc
from sqlalchemy import text

from cloudplane.kit.db import create_engine
from cloudplane.kit.errors import is_database_outage, is_transaction_collision


@pytest.mark.parametrize("engine_name", ["postgresql", "mariadb"], indirect=True)
async def test_a_deadlock_victim_is_a_collision_and_not_an_outage(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as setup:
            await setup.execute(
                text("CREATE TABLE collision_probe (id INTEGER PRIMARY KEY, v INTEGER)")
            )
            await setup.execute(text("INSERT INTO collision_probe VALUES (1, 0), (2, 0)"))
        first, second = await engine.connect(), await engine.connect()
        try:
            await first.begin()
            await second.begin()
            bump = text("UPDATE collision_probe SET v = v + 1 WHERE id = :id")
            await first.execute(bump, {"id": 1})
            await second.execute(bump, {"id": 2})
            # Each now wants the row the other holds: the engine must pick a victim.
            outcomes = await asyncio.gather(
                first.execute(bump, {"id": 2}),
                second.execute(bump, {"id": 1}),
                return_exceptions=True,
            )
        finally:
            await first.close()
            await second.close()
        errors = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(errors) == 1, outcomes
        victim = errors[0]
        assert isinstance(victim, sqlalchemy.exc.DBAPIError)
        assert is_transaction_collision(victim)
        assert not is_database_outage(victim)
    finally:
        async with engine.begin() as teardown:
            await teardown.execute(text("DROP TABLE IF EXISTS collision_probe"))
        await engine.dispose()


def test_a_refused_connection_is_an_outage_and_not_a_collision() -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    assert is_database_outage(refused)
    assert not is_transaction_collision(refused)

"""The schema ``alembic upgrade head`` builds is the schema the models describe, on each engine."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from tests.support.databases import ALL_ENGINES

import cloudplane.models
from cloudplane.kit.db import Base, create_engine


@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_the_migrated_schema_has_every_table_column_and_index_of_the_models(
    database_url: str,
) -> None:
    assert cloudplane.models.__all__  # every table is in Base.metadata
    engine = create_engine(database_url)

    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return list(compare_metadata(context, Base.metadata))

    try:
        async with engine.connect() as connection:
            found = await connection.run_sync(differences)
    finally:
        await engine.dispose()

    assert found == []

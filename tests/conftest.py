"""Fixtures shared by every test: databases on each engine, the app, and API clients."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from cloudplane.app import create_app
from cloudplane.kit.db import create_engine
from cloudplane.runtime import Runtime
from cloudplane.settings import Settings
from tests.support.api import ApiSession, login
from tests.support.databases import (
    ServerDatabase,
    SqliteTemplate,
    empty_all_tables,
    unavailable,
)
from tests.support.redis_service import private_key_prefix

ADMIN_PASSWORD = "admin-password-for-tests"

# Keep test runs independent of the developer's own environment.
for _name in list(os.environ):
    if _name.startswith("CLOUDPLANE_") and not _name.startswith("CLOUDPLANE_TEST_"):
        del os.environ[_name]


@pytest.fixture(scope="session")
async def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    template = SqliteTemplate(tmp_path_factory.mktemp("sqlite-template"))
    await template.create()
    return template


_server_databases: dict[str, ServerDatabase] = {}


@pytest.fixture(scope="session")
async def server_databases() -> AsyncIterator[dict[str, ServerDatabase]]:
    yield _server_databases
    for database in _server_databases.values():
        await database.drop()


@pytest.fixture
def engine_name(request: pytest.FixtureRequest) -> str:
    """The database engine a test runs on: SQLite unless parametrized (see ``all_engines``)."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
async def database_url(
    engine_name: str,
    tmp_path: Path,
    sqlite_template: SqliteTemplate,
    server_databases: dict[str, ServerDatabase],
) -> str:
    if engine_name == "sqlite":
        return sqlite_template.copy_to(tmp_path / "var")
    database = server_databases.get(engine_name)
    if database is None:
        database = ServerDatabase(engine_name)
        try:
            await database.create()
        except (OSError, Exception) as exc:  # connection refused, auth, missing server
            unavailable(f"{engine_name} is not reachable: {exc}")
        server_databases[engine_name] = database
    engine = create_engine(database.url)
    try:
        await empty_all_tables(engine)
    finally:
        await engine.dispose()
    return database.url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "var",
        database_url=database_url,
        auto_migrate=False,
        admin_password=ADMIN_PASSWORD,
        auth_cache_ttl_s=0,
        argon2_time_cost=1,
        argon2_memory_kib=32,  # argon2's floor: 8 KiB for each of its 4 lanes
        run_scheduler=False,
        rate_limit_per_s=0,
        login_attempts_per_min=0,
        log_json=True,
        log_level="WARNING",
        # A test reads a group's peers right after its servers settle; the spacing of refreshes
        # has its own test (tests/unit/kit/test_coalesced_refresh.py).
        group_peers_interval_s=0,
    )


@pytest.fixture
async def redis_key_prefix() -> AsyncIterator[str]:
    """Keys in the machine's Redis that only this test uses (``tests.support.redis_service``)."""
    async with private_key_prefix() as prefix:
        yield prefix


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def runtime(app: FastAPI) -> Runtime:
    runtime: Runtime = app.state.runtime
    return runtime


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://cloudplane.test") as c:
        yield c


@pytest.fixture
async def admin(client: httpx.AsyncClient, runtime: Runtime) -> ApiSession:
    """The seeded admin, logged in to the seeded ``demo`` project."""
    return await login(client, runtime, "admin", ADMIN_PASSWORD)

"""While the database cannot be reached the API answers 503, and recovers by itself."""

from __future__ import annotations

import pytest
from tests.support.api import ApiSession, assert_error

from cloudplane.kit.db import create_engine, session_factory

ALL_SERVER_ENGINES = pytest.mark.parametrize(
    "engine_name", ["postgresql", "mariadb"], indirect=True
)

_UNREACHABLE = {
    "postgresql": "postgresql+asyncpg://postgres@127.0.0.1:1/cloudplane",
    "mariadb": "mysql+asyncmy://root@127.0.0.1:1/cloudplane",
}


@ALL_SERVER_ENGINES
async def test_requests_during_an_outage_are_503_with_retry_after_then_recover(
    admin: ApiSession, engine_name: str
) -> None:
    runtime = admin.runtime
    healthy_sessions, healthy_engine = runtime.sessions, runtime.engine
    # Point every database user of the running service at a port where nothing listens.
    dead_engine = create_engine(_UNREACHABLE[engine_name])
    runtime.sessions = session_factory(dead_engine)
    runtime.engine = dead_engine
    runtime.authenticator._sessions = runtime.sessions
    try:
        response = await admin.get("/servers")
        error = assert_error(response, 503, "unavailable")
        assert response.headers["retry-after"] == "5"
        assert error["details"] == {"dependency": "database"}
        ready = await admin.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"].startswith("failed")
    finally:
        runtime.sessions, runtime.engine = healthy_sessions, healthy_engine
        runtime.authenticator._sessions = healthy_sessions
        await dead_engine.dispose()
    assert (await admin.get("/servers")).status_code == 200
    assert (await admin.client.get("/readyz")).status_code == 200

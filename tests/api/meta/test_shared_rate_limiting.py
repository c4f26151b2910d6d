"""With Redis configured, a caller's burst is shared by every API process it reaches."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from tests.support.api import ApiSession, assert_error
from tests.support.factories import new_project_member
from tests.support.redis_service import REDIS_URL

from cloudplane.app import create_app
from cloudplane.settings import Settings

BURST = 6


@pytest.fixture
def settings(settings: Settings, redis_key_prefix: str) -> Settings:
    return settings.model_copy(
        update={
            "rate_limit_per_s": 0.01,
            "rate_limit_burst": BURST,
            "redis_url": REDIS_URL,
            "redis_key_prefix": redis_key_prefix,
        }
    )


@pytest.fixture
async def second_process(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Another API process on the same database and Redis (its own app and runtime)."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://second.test") as client:
            yield client


async def test_a_caller_past_its_burst_is_refused_by_every_process(
    admin: ApiSession, second_process: httpx.AsyncClient
) -> None:
    member = await new_project_member(admin)
    # Logging in asked whoami once, which took one token of the burst.
    statuses: list[int] = []
    for sent in range(BURST):
        process = member.client if sent % 2 else second_process
        response = await process.get("/api/v1/servers", headers=member.headers)
        statuses.append(response.status_code)
    assert statuses == [200] * (BURST - 1) + [429]
    refused = await member.client.get("/api/v1/servers", headers=member.headers)
    assert_error(refused, 429, "rate_limited")
    assert int(refused.headers["retry-after"]) >= 1
    assert (await second_process.get("/api/v1/servers", headers=admin.headers)).status_code == 200

"""Callers that send too much get 429 with Retry-After; others are not affected."""

from __future__ import annotations

import pytest
from tests.support.api import ApiSession, assert_error
from tests.support.factories import new_project_member

from cloudplane.settings import Settings

BURST = 8


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"rate_limit_per_s": 0.01, "rate_limit_burst": BURST})


async def _successes_until_limited(api: ApiSession) -> int:
    for sent in range(BURST + 1):
        response = await api.get("/servers")
        if response.status_code == 429:
            assert_error(response, 429, "rate_limited")
            assert int(response.headers["retry-after"]) >= 1
            return sent
        assert response.status_code == 200
    raise AssertionError("never limited")


async def test_a_caller_past_its_burst_gets_429_and_others_do_not(admin: ApiSession) -> None:
    first = await new_project_member(admin)
    second = await new_project_member(admin)
    # Logging in asked whoami once, which took one token of the burst.
    assert await _successes_until_limited(first) == BURST - 1
    assert (await second.get("/servers")).status_code == 200


async def test_an_api_key_has_its_own_bucket(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    created = await member.post("/api-keys", json={"name": "automation"})
    assert created.status_code == 201, created.text
    assert await _successes_until_limited(member) == BURST - 2
    response = await member.client.get(
        "/api/v1/servers", headers={"Authorization": f"Bearer {created.json()['key']}"}
    )
    assert response.status_code == 200

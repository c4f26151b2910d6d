"""Login attempts are limited per username and per client address, before the password check."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI
from tests.conftest import ADMIN_PASSWORD
from tests.support.api import ApiSession, assert_error
from tests.support.identity import DEFAULT_PASSWORD, create_user
from tests.support.redis_service import REDIS_URL

from cloudplane.app import create_app
from cloudplane.identity.passwords import PasswordHashing
from cloudplane.settings import Settings

BURST = 3
TOKEN = "/api/v1/auth/token"

ClientFrom = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # Slow enough that no token grows back while a test runs.
    return settings.model_copy(
        update={"login_attempts_per_min": 0.6, "login_attempts_burst": BURST}
    )


def _client_from(app: FastAPI) -> ClientFrom:
    @asynccontextmanager
    async def client_from(address: str) -> AsyncIterator[httpx.AsyncClient]:
        transport = httpx.ASGITransport(app=app, client=(address, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client

    return client_from


@pytest.fixture
def client_from(app: FastAPI) -> ClientFrom:
    """A client of the app whose requests come from the given address."""
    return _client_from(app)


def _log_in(username: str, password: str) -> dict[str, str]:
    return {"username": username, "password": password}


async def test_guesses_at_one_username_from_many_addresses_are_refused_past_the_burst(
    admin: ApiSession, client_from: ClientFrom
) -> None:
    user = await create_user(admin, "guessed")
    answers = []
    for attempt in range(BURST + 1):
        async with client_from(f"198.51.100.{attempt + 1}") as client:
            answers.append(await client.post(TOKEN, json=_log_in(user["username"], "wrong")))
    assert [answer.status_code for answer in answers] == [401] * BURST + [429]
    refused = assert_error(answers[-1], 429, "rate_limited")
    assert "login attempts" in refused["message"]
    assert int(answers[-1].headers["retry-after"]) >= 1
    async with client_from("198.51.100.99") as client:
        right_password = await client.post(TOKEN, json=_log_in(user["username"], DEFAULT_PASSWORD))
        assert_error(right_password, 429, "rate_limited")
        other_user = await client.post(TOKEN, json=_log_in("admin", ADMIN_PASSWORD))
        assert other_user.status_code == 200, other_user.text


async def test_one_address_trying_many_usernames_is_refused_past_the_burst(
    client_from: ClientFrom,
) -> None:
    async with client_from("203.0.113.7") as client:
        statuses = [
            (await client.post(TOKEN, json=_log_in(f"nobody-{n}", "wrong"))).status_code
            for n in range(BURST + 1)
        ]
        assert statuses == [401] * BURST + [429]
        assert (await client.post(TOKEN, json=_log_in("admin", ADMIN_PASSWORD))).status_code == 429
    async with client_from("203.0.113.8") as elsewhere:
        assert (
            await elsewhere.post(TOKEN, json=_log_in("admin", ADMIN_PASSWORD))
        ).status_code == 200


async def test_concurrent_guesses_reach_the_password_check_only_burst_times(
    admin: ApiSession, client_from: ClientFrom, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await create_user(admin, "raced")
    checked: list[str] = []
    real_verify = PasswordHashing.verify

    def counting_verify(self: PasswordHashing, stored: str | None, password: str) -> bool:
        checked.append(password)
        return real_verify(self, stored, password)

    monkeypatch.setattr(PasswordHashing, "verify", counting_verify)

    async def guess(number: int) -> int:
        async with client_from(f"192.0.2.{number}") as client:
            response = await client.post(TOKEN, json=_log_in(user["username"], f"guess-{number}"))
            return response.status_code

    statuses = Counter(await asyncio.gather(*(guess(n) for n in range(1, 21))))

    assert statuses == Counter({401: BURST, 429: 20 - BURST})
    assert len(checked) == BURST


async def test_processes_sharing_redis_share_the_buckets(
    settings: Settings, redis_key_prefix: str
) -> None:
    shared = settings.model_copy(
        update={"redis_url": REDIS_URL, "redis_key_prefix": redis_key_prefix}
    )
    first, second = create_app(shared), create_app(shared)
    async with (
        first.router.lifespan_context(first),
        second.router.lifespan_context(second),
        _client_from(first)("198.51.100.200") as to_first,
        _client_from(second)("198.51.100.200") as to_second,
    ):
        statuses = [
            (
                await (to_first if n % 2 else to_second).post(TOKEN, json=_log_in("admin", "wrong"))
            ).status_code
            for n in range(BURST + 1)
        ]
    assert statuses == [401] * BURST + [429]

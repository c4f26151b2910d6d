"""The authenticator's cache of verified access tokens: reused while valid, never past expiry."""

from __future__ import annotations

import asyncio
import time

import pytest
from tests.support.api import ApiSession

from cloudplane.identity.authenticator import Authenticator
from cloudplane.identity.tokens import TokenCodec
from cloudplane.kit.errors import Unauthorized


def cached_authenticator(admin: ApiSession, *, access_ttl_s: int) -> Authenticator:
    codec = TokenCodec(
        "a-signing-key-for-the-token-cache-tests", access_ttl_s=access_ttl_s, refresh_ttl_s=60
    )
    return Authenticator(codec, admin.runtime.sessions, cache_ttl_s=60)


async def test_a_cached_token_stops_working_when_it_expires(admin: ApiSession) -> None:
    authenticator = cached_authenticator(admin, access_ttl_s=1)
    token, _ = authenticator.tokens.issue(
        admin.user_id, admin.project_id, "access", credential=admin.credential
    )

    first = await authenticator.authenticate(token)
    again = await authenticator.authenticate(token)
    assert (first.user_id, again.user_id) == (admin.user_id, admin.user_id)

    deadline = time.monotonic() + 10
    while True:
        try:
            await authenticator.authenticate(token)
        except Unauthorized:
            break
        assert time.monotonic() < deadline, "an expired token was still accepted"
        await asyncio.sleep(0.05)


async def test_a_forged_token_is_refused_even_after_a_valid_one_was_cached(
    admin: ApiSession,
) -> None:
    authenticator = cached_authenticator(admin, access_ttl_s=600)
    token, _ = authenticator.tokens.issue(
        admin.user_id, admin.project_id, "access", credential=admin.credential
    )
    await authenticator.authenticate(token)
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"

    with pytest.raises(Unauthorized):
        await authenticator.authenticate(forged)

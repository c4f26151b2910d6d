"""Logging in, refreshing, whoami, and what happens to bad or stale tokens."""

from __future__ import annotations

from datetime import datetime

import httpx
from tests.conftest import ADMIN_PASSWORD
from tests.support.api import ApiSession, assert_error, login
from tests.support.identity import (
    DEFAULT_PASSWORD,
    create_project,
    create_user,
    set_role,
)

from cloudplane.identity.tokens import TokenCodec, load_or_create_secret
from cloudplane.runtime import Runtime

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
WHOAMI = "/api/v1/auth/whoami"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def codec_for(runtime: Runtime, *, ttl_s: int, secret: str | None = None) -> TokenCodec:
    """A codec with the server's signing key (unless ``secret`` is given) and its own TTL."""
    key = secret or load_or_create_secret(runtime.settings.data_dir / "jwt.secret")
    return TokenCodec(key, access_ttl_s=ttl_s, refresh_ttl_s=ttl_s)


async def test_logging_in_gives_a_bearer_token_pair_scoped_to_the_users_first_project(
    client: httpx.AsyncClient, admin: ApiSession
) -> None:
    user = await create_user(admin, "lena")
    await set_role(admin, admin.project_id, user["id"], "member")
    later = await create_project(admin, "aaa-later")
    await set_role(admin, later["id"], user["id"], "reader")

    response = await client.post(TOKEN, json={"username": "lena", "password": DEFAULT_PASSWORD})

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["project_id"] == admin.project_id  # the oldest membership, not the first name
    assert body["roles"] == ["member"]
    assert datetime.fromisoformat(body["expires_at"]) < datetime.fromisoformat(
        body["refresh_expires_at"]
    )
    assert body["access_token"] != body["refresh_token"]
    whoami = await client.get(WHOAMI, headers=bearer(body["access_token"]))
    assert whoami.json()["user"]["username"] == "lena"


async def test_a_wrong_password_and_an_unknown_user_get_the_same_401(
    client: httpx.AsyncClient, admin: ApiSession
) -> None:
    wrong_password = await client.post(TOKEN, json={"username": "admin", "password": "nope"})
    unknown_user = await client.post(TOKEN, json={"username": "nobody", "password": "nope"})

    first = assert_error(wrong_password, 401, "unauthorized")
    second = assert_error(unknown_user, 401, "unauthorized")
    assert (first["message"], first["details"]) == (second["message"], second["details"])
    assert wrong_password.headers["www-authenticate"] == "Bearer"
    assert unknown_user.headers["www-authenticate"] == "Bearer"


async def test_a_disabled_user_cannot_log_in_and_is_told_nothing_more(
    client: httpx.AsyncClient, admin: ApiSession
) -> None:
    user = await create_user(admin, "dora")
    await set_role(admin, admin.project_id, user["id"], "member")
    await admin.patch(f"/users/{user['id']}", json={"enabled": False})

    disabled = await client.post(TOKEN, json={"username": "dora", "password": DEFAULT_PASSWORD})
    unknown = await client.post(TOKEN, json={"username": "nobody", "password": "x"})

    assert (
        assert_error(disabled, 401, "unauthorized")["message"]
        == (assert_error(unknown, 401, "unauthorized")["message"])
    )


async def test_a_user_without_any_project_cannot_log_in(
    client: httpx.AsyncClient, admin: ApiSession
) -> None:
    await create_user(admin, "homeless")

    response = await client.post(TOKEN, json={"username": "homeless", "password": DEFAULT_PASSWORD})

    assert_error(response, 401, "unauthorized")


async def test_asking_for_a_project_the_user_has_no_role_in_is_401_like_one_that_does_not_exist(
    client: httpx.AsyncClient, admin: ApiSession
) -> None:
    user = await create_user(admin, "paula")
    await set_role(admin, admin.project_id, user["id"], "member")
    other = await create_project(admin, "other")
    credentials = {"username": "paula", "password": DEFAULT_PASSWORD}

    not_member = await client.post(TOKEN, json={**credentials, "project_id": other["id"]})
    missing = await client.post(TOKEN, json={**credentials, "project_id": "no-such-project"})

    assert (
        assert_error(not_member, 401, "unauthorized")["message"]
        == (assert_error(missing, 401, "unauthorized")["message"])
    )


async def test_an_admin_without_memberships_gets_the_first_project_by_name_and_may_pick_any(
    client: httpx.AsyncClient, admin: ApiSession
) -> None:
    await create_user(admin, "ada", is_admin=True)
    first = await create_project(admin, "aaa-first")
    other = await create_project(admin, "zzz-other")

    default = await login(client, admin.runtime, "ada", DEFAULT_PASSWORD)
    chosen = await login(client, admin.runtime, "ada", DEFAULT_PASSWORD, other["id"])

    assert default.project_id == first["id"]
    assert chosen.project_id == other["id"]
    roles = (await chosen.get("/auth/whoami")).json()["roles"]
    assert roles == ["admin"]


async def test_refreshing_gives_a_new_pair_in_the_same_project(
    client: httpx.AsyncClient, admin: ApiSession
) -> None:
    pair = (await client.post(TOKEN, json={"username": "admin", "password": ADMIN_PASSWORD})).json()

    response = await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})

    assert response.status_code == 200, response.text
    refreshed = response.json()
    assert refreshed["project_id"] == pair["project_id"]
    assert refreshed["access_token"] != pair["access_token"]
    whoami = await client.get(WHOAMI, headers=bearer(refreshed["access_token"]))
    assert whoami.status_code == 200
    again = await client.post(REFRESH, json={"refresh_token": refreshed["refresh_token"]})
    assert again.status_code == 200


async def test_access_and_refresh_tokens_cannot_stand_in_for_each_other(
    client: httpx.AsyncClient, admin: ApiSession
) -> None:
    pair = (await client.post(TOKEN, json={"username": "admin", "password": ADMIN_PASSWORD})).json()

    refresh_with_access = await client.post(REFRESH, json={"refresh_token": pair["access_token"]})
    call_with_refresh = await client.get(WHOAMI, headers=bearer(pair["refresh_token"]))

    assert_error(refresh_with_access, 401, "unauthorized")
    assert_error(call_with_refresh, 401, "unauthorized")


async def test_a_refresh_token_stops_working_once_the_membership_is_gone(
    client: httpx.AsyncClient, admin: ApiSession
) -> None:
    user = await create_user(admin, "temp")
    await set_role(admin, admin.project_id, user["id"], "member")
    pair = (
        await client.post(TOKEN, json={"username": "temp", "password": DEFAULT_PASSWORD})
    ).json()
    removed = await admin.delete(f"/projects/{admin.project_id}/members/{user['id']}")
    assert removed.status_code == 204

    response = await client.post(REFRESH, json={"refresh_token": pair["refresh_token"]})

    assert_error(response, 401, "unauthorized")
    assert_error(
        await client.get(WHOAMI, headers=bearer(pair["access_token"])), 401, "unauthorized"
    )


async def test_a_garbage_refresh_token_is_401(client: httpx.AsyncClient, admin: ApiSession) -> None:
    response = await client.post(REFRESH, json={"refresh_token": "not-a-token"})

    assert_error(response, 401, "unauthorized")


async def test_whoami_names_the_user_project_and_roles_behind_the_token(
    admin: ApiSession, member: ApiSession
) -> None:
    response = await member.get("/auth/whoami")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"] == {
        "id": member.user_id,
        "username": "mia",
        "email": None,
        "is_admin": False,
    }
    assert body["project"] == {"id": admin.project_id, "name": "demo"}
    assert body["roles"] == ["member"]
    assert body["api_key_id"] is None


async def test_a_request_without_a_token_is_401_with_a_bearer_challenge(
    client: httpx.AsyncClient, admin: ApiSession
) -> None:
    for method, path in (("GET", WHOAMI), ("GET", "/api/v1/projects"), ("POST", "/api/v1/users")):
        response = await client.request(method, path, json={})
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"


async def test_an_expired_access_token_is_401(
    client: httpx.AsyncClient, admin: ApiSession, runtime: Runtime
) -> None:
    valid, _ = codec_for(runtime, ttl_s=60).issue(
        admin.user_id, admin.project_id, "access", credential=admin.credential
    )
    expired, _ = codec_for(runtime, ttl_s=-1).issue(
        admin.user_id, admin.project_id, "access", credential=admin.credential
    )

    assert (await client.get(WHOAMI, headers=bearer(valid))).status_code == 200
    response = await client.get(WHOAMI, headers=bearer(expired))

    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_an_expired_refresh_token_is_401(
    client: httpx.AsyncClient, admin: ApiSession, runtime: Runtime
) -> None:
    expired, _ = codec_for(runtime, ttl_s=-1).issue(
        admin.user_id, admin.project_id, "refresh", credential=admin.credential
    )

    response = await client.post(REFRESH, json={"refresh_token": expired})

    assert_error(response, 401, "unauthorized")


async def test_a_forged_or_tampered_token_is_401(
    client: httpx.AsyncClient, admin: ApiSession, runtime: Runtime
) -> None:
    forged, _ = codec_for(
        runtime, ttl_s=60, secret="a-key-that-is-not-the-servers-signing-key"
    ).issue(admin.user_id, admin.project_id, "access", credential=admin.credential)
    header, payload, signature = admin.token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"

    for token in (forged, tampered, "cpk_deadbeef_not-a-key", "garbage"):
        assert_error(await client.get(WHOAMI, headers=bearer(token)), 401, "unauthorized")

"""Users: create, read, update, delete, names, passwords, and listing page by page."""

from __future__ import annotations

import httpx
from tests.support.api import ApiSession, assert_error, login
from tests.support.identity import DEFAULT_PASSWORD, create_user, set_role

from cloudplane.runtime import Runtime

USER_FIELDS = {
    "id",
    "username",
    "email",
    "is_admin",
    "enabled",
    "created_at",
    "updated_at",
    "deleted_at",
}


async def test_a_user_can_be_created_read_updated_and_deleted(admin: ApiSession) -> None:
    created = await admin.post(
        "/users", json={"username": "alice", "password": "s3cret-pass", "email": "a@example.org"}
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert set(user) == USER_FIELDS  # never a password or its hash
    assert (user["username"], user["email"], user["is_admin"], user["enabled"]) == (
        "alice",
        "a@example.org",
        False,
        True,
    )
    assert (await admin.get(f"/users/{user['id']}")).json() == user

    patched = await admin.patch(f"/users/{user['id']}", json={"email": None, "is_admin": True})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["email"], patched.json()["is_admin"]) == (None, True)
    assert set(patched.json()) == USER_FIELDS

    assert (await admin.delete(f"/users/{user['id']}")).status_code == 204
    assert_error(await admin.get(f"/users/{user['id']}"), 404, "not_found")
    shown = await admin.get(f"/users/{user['id']}", params={"deleted": "true"})
    assert shown.json()["deleted_at"] is not None


async def test_a_username_taken_by_a_live_user_is_409_and_free_again_after_delete(
    admin: ApiSession,
) -> None:
    first = await create_user(admin, "bob")

    assert_error(
        await admin.post("/users", json={"username": "bob", "password": "another-one"}),
        409,
        "conflict",
    )
    await admin.delete(f"/users/{first['id']}")
    again = await admin.post("/users", json={"username": "bob", "password": "another-one"})
    assert again.status_code == 201


async def test_usernames_passwords_and_emails_are_validated(admin: ApiSession) -> None:
    for body in (
        {"username": "x", "password": "long-enough"},
        {"username": "Alice", "password": "long-enough"},
        {"username": "-alice", "password": "long-enough"},
        {"username": "al ice", "password": "long-enough"},
        {"username": "a" * 65, "password": "long-enough"},
        {"username": "alice", "password": "short"},
        {"username": "alice", "password": "long-enough", "email": "not-an-email"},
        {"username": "alice", "password": "long-enough", "role": "admin"},
    ):
        assert_error(await admin.post("/users", json=body), 422, "validation_error")
    patches: list[dict[str, object]] = [
        {"password": "short"},
        {"enabled": None},
        {"username": "renamed"},
    ]
    for patch in patches:
        response = await admin.patch(f"/users/{admin.user_id}", json=patch)
        assert_error(response, 422, "validation_error")


async def test_an_admin_cannot_delete_disable_or_demote_themselves(admin: ApiSession) -> None:
    path = f"/users/{admin.user_id}"

    assert_error(await admin.delete(path), 409, "conflict")
    assert_error(await admin.patch(path, json={"enabled": False}), 409, "conflict")
    assert_error(await admin.patch(path, json={"is_admin": False}), 409, "conflict")
    assert (await admin.get("/auth/whoami")).status_code == 200


async def test_a_deleted_user_loses_tokens_keys_and_memberships(
    client: httpx.AsyncClient, admin: ApiSession, runtime: Runtime
) -> None:
    user = await create_user(admin, "leaver")
    await set_role(admin, admin.project_id, user["id"], "member")
    leaver = await login(client, runtime, "leaver", DEFAULT_PASSWORD)
    key = (await leaver.post("/api-keys", json={"name": "k"})).json()["key"]

    assert (await admin.delete(f"/users/{user['id']}")).status_code == 204

    assert_error(await leaver.get("/auth/whoami"), 401, "unauthorized")
    by_key = await client.get("/api/v1/auth/whoami", headers={"Authorization": f"Bearer {key}"})
    assert_error(by_key, 401, "unauthorized")
    members = (await admin.get(f"/projects/{admin.project_id}/members")).json()["items"]
    assert user["id"] not in {m["user_id"] for m in members}
    relogin = await client.post(
        "/api/v1/auth/token", json={"username": "leaver", "password": DEFAULT_PASSWORD}
    )
    assert_error(relogin, 401, "unauthorized")


async def test_a_new_password_works_at_the_next_login_and_the_old_one_stops(
    client: httpx.AsyncClient, admin: ApiSession, runtime: Runtime
) -> None:
    user = await create_user(admin, "forgetful")
    await set_role(admin, admin.project_id, user["id"], "reader")

    await admin.patch(f"/users/{user['id']}", json={"password": "brand-new-password"})

    old = await client.post(
        "/api/v1/auth/token", json={"username": "forgetful", "password": DEFAULT_PASSWORD}
    )
    assert_error(old, 401, "unauthorized")
    await login(client, runtime, "forgetful", "brand-new-password")


async def test_a_password_change_ends_the_tokens_issued_before_it(
    client: httpx.AsyncClient, admin: ApiSession
) -> None:
    user = await create_user(admin, "leaked")
    await set_role(admin, admin.project_id, user["id"], "member")
    issued = await client.post(
        "/api/v1/auth/token", json={"username": "leaked", "password": DEFAULT_PASSWORD}
    )
    old = issued.json()
    old_access = {"Authorization": f"Bearer {old['access_token']}"}
    assert (await client.get("/api/v1/auth/whoami", headers=old_access)).status_code == 200

    changed = await admin.patch(f"/users/{user['id']}", json={"password": DEFAULT_PASSWORD})

    # Set again to the same password: a new setting all the same.
    assert changed.status_code == 200, changed.text
    assert_error(await client.get("/api/v1/auth/whoami", headers=old_access), 401, "unauthorized")
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": old["refresh_token"]}
    )
    assert_error(refreshed, 401, "unauthorized")
    again = await client.post(
        "/api/v1/auth/token", json={"username": "leaked", "password": DEFAULT_PASSWORD}
    )
    renewed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": again.json()["refresh_token"]}
    )
    assert renewed.status_code == 200, renewed.text


async def test_users_are_listed_page_by_page_with_limit_and_marker(admin: ApiSession) -> None:
    for number in range(7):
        await create_user(admin, f"user-{number}")

    seen: list[str] = []
    marker: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 3, "sort": "name:asc"}
        if marker is not None:
            params["marker"] = marker
        page = (await admin.get("/users", params=params)).json()
        seen.extend(item["username"] for item in page["items"])
        pages += 1
        marker = page["next_marker"]
        if marker is None:
            break

    assert seen == sorted(["admin", *(f"user-{n}" for n in range(7))])
    assert pages == 3


async def test_an_unknown_marker_is_400(admin: ApiSession) -> None:
    response = await admin.get("/users", params={"marker": "no-such-user"})

    assert_error(response, 400, "bad_request")


async def test_users_filter_by_username_prefix_and_flags(admin: ApiSession) -> None:
    await create_user(admin, "ops.one")
    await create_user(admin, "ops.two", is_admin=True)
    await create_user(admin, "dev.one")

    by_prefix = (await admin.get("/users", params={"username_prefix": "ops."})).json()["items"]
    admins = (await admin.get("/users", params={"is_admin": "true", "sort": "name:asc"})).json()
    by_name = (await admin.get("/users", params={"name": "dev.one"})).json()["items"]

    assert {u["username"] for u in by_prefix} == {"ops.one", "ops.two"}
    assert [u["username"] for u in admins["items"]] == ["admin", "ops.two"]
    assert [u["username"] for u in by_name] == ["dev.one"]


async def test_an_unknown_user_is_404(admin: ApiSession) -> None:
    for method, path, body in (
        ("GET", "/users/nope", None),
        ("PATCH", "/users/nope", {"enabled": False}),
        ("DELETE", "/users/nope", None),
    ):
        assert_error(await admin.request(method, path, json=body), 404, "not_found")

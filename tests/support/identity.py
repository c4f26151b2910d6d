"""Factories for identity tests: users, projects and memberships made through the API."""

from __future__ import annotations

from typing import Any

from tests.support.api import ApiSession, login

DEFAULT_PASSWORD = "correct-horse-battery"


async def create_user(
    admin: ApiSession, username: str, password: str = DEFAULT_PASSWORD, **fields: Any
) -> dict[str, Any]:
    response = await admin.post(
        "/users", json={"username": username, "password": password, **fields}
    )
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()
    return user


async def create_project(admin: ApiSession, name: str, **fields: Any) -> dict[str, Any]:
    response = await admin.post("/projects", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    return project


async def set_role(admin: ApiSession, project_id: str, user_id: str, role: str) -> None:
    response = await admin.put(f"/projects/{project_id}/members/{user_id}", json={"role": role})
    assert response.status_code == 200, response.text


async def user_with_role(
    admin: ApiSession, username: str, role: str, project_id: str | None = None
) -> ApiSession:
    """A new user with ``role`` in ``project_id`` (default: the admin's project), logged in."""
    project_id = project_id or admin.project_id
    user = await create_user(admin, username)
    await set_role(admin, project_id, user["id"], role)
    return await login(admin.client, admin.runtime, username, DEFAULT_PASSWORD, project_id)

"""Plain functions that make test data through the API, the way a client would."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.api import ApiSession, login

USER_PASSWORD = "user-password-123"


async def new_project_member(
    admin: ApiSession, *, role: str = "member", project_name: str | None = None
) -> ApiSession:
    """A new project with a new user in it holding ``role``, logged in to that project."""
    suffix = uuid.uuid4().hex[:8]
    project = await admin.post("/projects", json={"name": project_name or f"project-{suffix}"})
    assert project.status_code == 201, project.text
    project_id = project.json()["id"]
    return await new_member(admin, project_id, role=role)


async def new_member(admin: ApiSession, project_id: str, *, role: str = "member") -> ApiSession:
    """A new user holding ``role`` in an existing project, logged in to it."""
    username = f"user-{uuid.uuid4().hex[:8]}"
    user = await admin.post("/users", json={"username": username, "password": USER_PASSWORD})
    assert user.status_code == 201, user.text
    member = await admin.put(
        f"/projects/{project_id}/members/{user.json()['id']}", json={"role": role}
    )
    assert member.status_code == 200, member.text
    return await login(admin.client, admin.runtime, username, USER_PASSWORD, project_id)


async def catalogue_ids(api: ApiSession) -> tuple[str, str]:
    """Ids of the seeded ``m1.tiny`` flavor and ``tiny`` image."""
    flavors = (await api.get("/flavors", params={"name": "m1.tiny"})).json()["items"]
    images = (await api.get("/images", params={"name": "tiny"})).json()["items"]
    return flavors[0]["id"], images[0]["id"]


async def create_server(api: ApiSession, name: str | None = None, **extra: Any) -> dict[str, Any]:
    """Create a server (202) and return its body; it is BUILD until the worker runs."""
    flavor_id, image_id = await catalogue_ids(api)
    body = {
        "name": name or f"srv-{uuid.uuid4().hex[:8]}",
        "flavor_id": flavor_id,
        "image_id": image_id,
        **extra,
    }
    response = await api.post("/servers", json=body)
    assert response.status_code == 202, response.text
    server: dict[str, Any] = response.json()
    return server


async def active_server(api: ApiSession, name: str | None = None) -> dict[str, Any]:
    """A server that has finished building (ACTIVE)."""
    server = await create_server(api, name)
    await api.settle()
    shown = await api.get(f"/servers/{server['id']}")
    assert shown.json()["status"] == "ACTIVE", shown.text
    body: dict[str, Any] = shown.json()
    return body


async def set_quota(admin: ApiSession, project_id: str, **limits: int) -> None:
    response = await admin.put(f"/projects/{project_id}/quotas", json=limits)
    assert response.status_code == 200, response.text

"""Quotas: limits per project, usage counted from live rows, partial updates by admins."""

from __future__ import annotations

from tests.support.api import ApiSession, assert_error
from tests.support.identity import create_project

from cloudplane.identity.models import DEFAULT_QUOTAS, QUOTA_RESOURCES


async def test_a_new_project_has_the_default_limits_and_nothing_in_use(admin: ApiSession) -> None:
    project = await create_project(admin, "fresh")

    response = await admin.get(f"/projects/{project['id']}/quotas")

    assert response.status_code == 200, response.text
    assert response.json() == {
        "project_id": project["id"],
        "limits": DEFAULT_QUOTAS,
        "in_use": dict.fromkeys(QUOTA_RESOURCES, 0),
    }


async def test_putting_some_limits_changes_only_those(admin: ApiSession) -> None:
    path = f"/projects/{admin.project_id}/quotas"

    response = await admin.put(path, json={"servers": 3, "ram_mb": -1})

    assert response.status_code == 200, response.text
    expected = {**DEFAULT_QUOTAS, "servers": 3, "ram_mb": -1}
    assert response.json()["limits"] == expected
    assert (await admin.get(path)).json()["limits"] == expected
    unchanged = await admin.put(path, json={})
    assert unchanged.json()["limits"] == expected


async def test_members_may_read_their_projects_quota(admin: ApiSession, member: ApiSession) -> None:
    response = await member.get(f"/projects/{admin.project_id}/quotas")

    assert response.status_code == 200
    assert response.json()["limits"] == DEFAULT_QUOTAS


async def test_limits_must_be_integers_of_minus_one_or_more_with_known_names(
    admin: ApiSession,
) -> None:
    path = f"/projects/{admin.project_id}/quotas"
    for body in (
        {"servers": -2},
        {"servers": "5"},
        {"servers": 1.5},
        {"servers": True},
        {"servers": None},
        {"gpus": 4},
        {"limits": {"servers": 4}},
    ):
        error = assert_error(await admin.put(path, json=body), 422, "validation_error")
        assert error["details"]["errors"], body

    assert (await admin.get(path)).json()["limits"] == DEFAULT_QUOTAS

"""Races that really race: concurrent requests against one database, on every engine."""

from __future__ import annotations

import asyncio

import pytest
from tests.support.api import ApiSession, worker_held
from tests.support.factories import active_server, catalogue_ids, new_project_member, set_quota

ALL_ENGINES = pytest.mark.parametrize(
    "engine_name", ["sqlite", "postgresql", "mariadb"], indirect=True
)


@ALL_ENGINES
async def test_fifty_concurrent_creates_of_one_name_make_exactly_one_server(
    admin: ApiSession,
) -> None:
    await set_quota(admin, admin.project_id, servers=-1, vcpus=-1, ram_mb=-1)
    flavor_id, image_id = await catalogue_ids(admin)
    body = {"name": "contested", "flavor_id": flavor_id, "image_id": image_id}
    responses = await asyncio.gather(*(admin.post("/servers", json=body) for _ in range(50)))
    codes = sorted(r.status_code for r in responses)
    assert codes.count(202) == 1, codes
    assert codes.count(409) == 49, codes
    await admin.settle()
    listed = (await admin.get("/servers", params={"name": "contested"})).json()["items"]
    assert len(listed) == 1


@ALL_ENGINES
async def test_fifty_concurrent_creates_under_a_quota_of_ten_make_exactly_ten(
    admin: ApiSession,
) -> None:
    member = await new_project_member(admin)
    await set_quota(admin, member.project_id, servers=10)
    flavor_id, image_id = await catalogue_ids(member)
    responses = await asyncio.gather(
        *(
            member.post(
                "/servers", json={"name": f"q-{i}", "flavor_id": flavor_id, "image_id": image_id}
            )
            for i in range(50)
        )
    )
    codes = [r.status_code for r in responses]
    assert codes.count(202) == 10, codes
    assert codes.count(409) == 40, codes
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "quota_exceeded"
    }
    await member.settle()
    quotas = (await admin.get(f"/projects/{member.project_id}/quotas")).json()
    assert quotas["in_use"]["servers"] == 10


@ALL_ENGINES
async def test_two_concurrent_actions_on_one_server_start_one_operation(
    admin: ApiSession,
) -> None:
    server = await active_server(admin)
    # With the worker held, the first action is still in flight when the second one arrives
    # (otherwise a fast worker could finish stop before pause and both be legal in turn).
    async with worker_held(admin.runtime):
        stop, pause = await asyncio.gather(
            admin.post(f"/servers/{server['id']}/stop"),
            admin.post(f"/servers/{server['id']}/pause"),
        )
    assert sorted([stop.status_code, pause.status_code]) == [202, 409]
    await admin.settle()
    operations = (await admin.get("/operations", params={"resource_id": server["id"]})).json()
    actions = sorted(op["action"] for op in operations["items"])
    assert actions in (["create", "stop"], ["create", "pause"])

"""``POST /servers/{id}/reset-state``: an administrator records a status and clears the task."""

from __future__ import annotations

import pytest
from tests.support.api import ApiSession, assert_error, worker_held
from tests.support.databases import ALL_ENGINES
from tests.support.factories import active_server, create_server, new_project_member

from cloudplane.compute.reconciler import reconcile_servers


@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_an_admin_sets_error_with_a_fault_and_back_to_active_without_one(
    admin: ApiSession,
) -> None:
    member = await new_project_member(admin)
    server = await active_server(member)

    errored = await admin.post(f"/servers/{server['id']}/reset-state", json={})

    assert errored.status_code == 200, errored.text
    body = errored.json()
    assert (body["status"], body["task_state"]) == ("ERROR", None)
    assert body["fault"]["code"] == "reset_state"
    assert (await member.get(f"/servers/{server['id']}")).json()["status"] == "ERROR"
    active = await admin.post(f"/servers/{server['id']}/reset-state", json={"status": "ACTIVE"})
    assert (active.json()["status"], active.json()["fault"]) == ("ACTIVE", None)
    audit = (await admin.get("/audit-events", params={"resource_id": server["id"]})).json()
    assert sum(1 for event in audit["items"] if event["path"].endswith("/reset-state")) == 2


async def test_only_admins_reset_and_only_to_settled_statuses(admin: ApiSession) -> None:
    member = await new_project_member(admin)
    server = await active_server(member)

    refused = await member.post(f"/servers/{server['id']}/reset-state", json={"status": "ACTIVE"})
    assert_error(refused, 403, "forbidden")
    building = await admin.post(f"/servers/{server['id']}/reset-state", json={"status": "BUILD"})
    assert_error(building, 422, "validation_error")
    missing = await admin.post("/servers/00000000-0000-4000-8000-000000000000/reset-state", json={})
    assert_error(missing, 404, "not_found")
    assert (await member.get(f"/servers/{server['id']}")).json()["status"] == "ACTIVE"


async def test_a_server_being_deleted_is_not_reset(admin: ApiSession) -> None:
    server = await create_server(admin)
    await admin.settle()
    async with worker_held(admin.runtime):
        assert (await admin.delete(f"/servers/{server['id']}")).status_code == 202
        refused = await admin.post(f"/servers/{server['id']}/reset-state", json={})
        assert_error(refused, 409, "conflict")
    await admin.settle()
    assert_error(await admin.get(f"/servers/{server['id']}"), 404, "not_found")


async def test_the_next_reconcile_corrects_a_reset_from_the_power_state(admin: ApiSession) -> None:
    server = await active_server(admin)

    await admin.post(f"/servers/{server['id']}/reset-state", json={"status": "SHUTOFF"})
    assert (await admin.get(f"/servers/{server['id']}")).json()["status"] == "SHUTOFF"
    assert await reconcile_servers(admin.runtime) == 1

    shown = (await admin.get(f"/servers/{server['id']}")).json()
    assert (shown["status"], shown["power_state"]) == ("ACTIVE", "running")

"""A server's life through the API: build, power actions, rename, delete."""

from __future__ import annotations

import pytest
from tests.support.api import ApiSession, assert_error, worker_held
from tests.support.factories import active_server, catalogue_ids, create_server


async def test_a_created_server_goes_from_build_to_active_with_an_operation(
    admin: ApiSession,
) -> None:
    server = await create_server(admin, "web-1", metadata={"role": "web"})
    assert server["status"] == "BUILD"
    assert server["task_state"] == "spawning"
    assert server["operation_id"]
    await admin.settle()
    shown = (await admin.get(f"/servers/{server['id']}")).json()
    assert shown["status"] == "ACTIVE"
    assert shown["task_state"] is None
    assert shown["power_state"] == "running"
    assert shown["host"] == "sim-host-1"
    assert shown["metadata"] == {"role": "web"}
    operation = (await admin.get(f"/operations/{server['operation_id']}")).json()
    assert operation["status"] == "succeeded"
    assert operation["resource_id"] == server["id"]
    assert operation["events"][0]["message"] == "create requested"


async def test_the_create_answer_points_at_its_operation(admin: ApiSession) -> None:
    flavor_id, image_id = await catalogue_ids(admin)
    response = await admin.post(
        "/servers", json={"name": "loc", "flavor_id": flavor_id, "image_id": image_id}
    )
    assert response.status_code == 202
    assert response.headers["location"] == f"/api/v1/operations/{response.json()['operation_id']}"


@pytest.mark.parametrize(
    ("action", "body", "status_after", "power_after"),
    [
        ("stop", None, "SHUTOFF", "shutdown"),
        ("reboot", {"type": "soft"}, "ACTIVE", "running"),
        ("reboot", {"type": "hard"}, "ACTIVE", "running"),
        ("pause", None, "PAUSED", "paused"),
    ],
)
async def test_power_actions_move_an_active_server_to_their_state(
    admin: ApiSession,
    action: str,
    body: dict[str, str] | None,
    status_after: str,
    power_after: str,
) -> None:
    server = await active_server(admin)
    response = await admin.post(f"/servers/{server['id']}/{action}", json=body)
    assert response.status_code == 202, response.text
    assert response.json()["task_state"] is not None
    await admin.settle()
    shown = (await admin.get(f"/servers/{server['id']}")).json()
    assert (shown["status"], shown["power_state"], shown["task_state"]) == (
        status_after,
        power_after,
        None,
    )


async def test_a_stopped_server_starts_and_a_paused_one_resumes(admin: ApiSession) -> None:
    server = await active_server(admin)
    for action, expected in (
        ("stop", "SHUTOFF"),
        ("start", "ACTIVE"),
        ("pause", "PAUSED"),
        ("resume", "ACTIVE"),
    ):
        assert (await admin.post(f"/servers/{server['id']}/{action}")).status_code == 202
        await admin.settle()
        assert (await admin.get(f"/servers/{server['id']}")).json()["status"] == expected


@pytest.mark.parametrize(
    ("action", "status"),
    [("resume", "ACTIVE"), ("start", "ACTIVE")],
)
async def test_an_action_the_state_machine_forbids_is_a_conflict_naming_the_status(
    admin: ApiSession, action: str, status: str
) -> None:
    server = await active_server(admin)
    error = assert_error(await admin.post(f"/servers/{server['id']}/{action}"), 409, "conflict")
    assert error["details"]["status"] == status


async def test_an_action_while_another_is_in_flight_is_a_conflict(admin: ApiSession) -> None:
    server = await active_server(admin)
    async with worker_held(admin.runtime):
        assert (await admin.post(f"/servers/{server['id']}/stop")).status_code == 202
        error = assert_error(await admin.post(f"/servers/{server['id']}/pause"), 409, "conflict")
    assert error["details"]["task_state"] == "powering_off"
    await admin.settle()
    assert (await admin.get(f"/servers/{server['id']}")).json()["status"] == "SHUTOFF"


async def test_renaming_a_server_changes_its_name_and_keeps_it_running(admin: ApiSession) -> None:
    server = await active_server(admin, "old-name")
    response = await admin.patch(
        f"/servers/{server['id']}", json={"name": "new-name", "description": "d"}
    )
    assert response.status_code == 200
    assert response.json()["name"] == "new-name"
    assert response.json()["description"] == "d"
    assert response.json()["status"] == "ACTIVE"


async def test_a_deleted_server_is_gone_for_members_and_visible_to_admins_on_request(
    admin: ApiSession,
) -> None:
    server = await active_server(admin)
    response = await admin.delete(f"/servers/{server['id']}")
    assert response.status_code == 202
    assert response.json()["status"] == "DELETING"
    await admin.settle()
    assert_error(await admin.get(f"/servers/{server['id']}"), 404, "not_found")
    listed = (await admin.get("/servers")).json()["items"]
    assert server["id"] not in [s["id"] for s in listed]
    deleted = await admin.get(f"/servers/{server['id']}", params={"deleted": "true"})
    assert deleted.status_code == 200
    assert deleted.json()["status"] == "DELETED"
    assert deleted.json()["deleted_at"] is not None
    assert server["id"] not in [s.id for s in await admin.runtime.driver.list_servers()]


async def test_a_deleted_servers_name_can_be_used_again(admin: ApiSession) -> None:
    server = await active_server(admin, "reused")
    await admin.delete(f"/servers/{server['id']}")
    await admin.settle()
    again = await create_server(admin, "reused")
    assert again["id"] != server["id"]


async def test_a_server_can_be_deleted_while_it_builds_and_does_not_come_back(
    admin: ApiSession,
) -> None:
    server = await create_server(admin)
    response = await admin.delete(f"/servers/{server['id']}")
    assert response.status_code == 202
    await admin.settle()
    assert_error(await admin.get(f"/servers/{server['id']}"), 404, "not_found")
    assert server["id"] not in [s.id for s in await admin.runtime.driver.list_servers()]


async def test_deleting_twice_while_the_first_delete_runs_is_a_conflict(
    admin: ApiSession,
) -> None:
    server = await active_server(admin)
    async with worker_held(admin.runtime):
        assert (await admin.delete(f"/servers/{server['id']}")).status_code == 202
        error = assert_error(await admin.delete(f"/servers/{server['id']}"), 409, "conflict")
    assert error["details"]["status"] == "DELETING"
    await admin.settle()


async def test_the_console_endpoint_reports_the_drivers_console(admin: ApiSession) -> None:
    server = await active_server(admin)
    console = (await admin.get(f"/servers/{server['id']}/console")).json()
    assert console["type"] == "serial"
    assert server["id"] in console["url"]

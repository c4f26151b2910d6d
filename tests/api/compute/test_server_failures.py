"""When the driver fails, the server shows ERROR with a fault and can still be deleted."""

from __future__ import annotations

import pytest
from tests.support.api import ApiSession, assert_error
from tests.support.factories import create_server, new_project_member
from tests.support.held_calls import build_overtaken_by_delete

from cloudplane.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"simulator_fail": ["create_server"]})


async def test_a_failed_build_ends_in_error_with_a_fault_and_a_failed_operation(
    admin: ApiSession,
) -> None:
    server = await create_server(admin)
    await admin.settle()
    shown = (await admin.get(f"/servers/{server['id']}")).json()
    assert shown["status"] == "ERROR"
    assert shown["task_state"] is None
    assert shown["fault"]["code"] == "create_failed"
    assert "injected" in shown["fault"]["message"]
    operation = (await admin.get(f"/operations/{server['operation_id']}")).json()
    assert operation["status"] == "failed"
    assert operation["error"]


async def test_a_server_in_error_can_be_deleted(admin: ApiSession) -> None:
    server = await create_server(admin)
    await admin.settle()
    assert (await admin.delete(f"/servers/{server['id']}")).status_code == 202
    await admin.settle()
    assert_error(await admin.get(f"/servers/{server['id']}"), 404, "not_found")


async def test_a_failed_build_shows_the_ports_it_built_on_the_backend_active(
    admin: ApiSession,
) -> None:
    server = await create_server(admin)
    await admin.settle()

    shown = (await admin.get(f"/servers/{server['id']}")).json()
    assert shown["status"] == "ERROR"
    port_ids = [address["port_id"] for address in shown["addresses"]]
    assert port_ids
    on_backend = {port.id for port in await admin.runtime.driver.list_ports()}
    for port_id in port_ids:
        assert port_id in on_backend
        assert (await admin.get(f"/ports/{port_id}")).json()["status"] == "ACTIVE"


async def test_a_failed_build_of_a_server_deleted_meanwhile_leaves_no_port_on_the_backend(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = await new_project_member(admin)
    overtaken = await build_overtaken_by_delete(member, monkeypatch, "10.64.0.0/24")

    overtaken.port_creation.release()
    await member.settle()

    on_backend = {port.id for port in await member.runtime.driver.list_ports()}
    assert overtaken.made_port_id not in on_backend
    operation_id = overtaken.server["operation_id"]
    operation = (await member.get(f"/operations/{operation_id}")).json()
    assert operation["status"] == "failed"
    assert "injected" in operation["error"]

"""When the backend refuses to delete a server's port, the server still goes and the port is
retried by an operation of its own, then by the leak sweep; its address stays held meanwhile."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from tests.api.network.network_factories import create_network
from tests.support.api import ApiSession, assert_error
from tests.support.databases import ALL_ENGINES
from tests.support.factories import create_server, new_project_member

from cloudplane.audit.models import AuditEvent
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.network.models import Port
from cloudplane.network.sweeper import sweep_network_leaks
from cloudplane.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"simulator_fail": ["delete_port"]})


@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_a_port_the_backend_keeps_is_retried_and_its_address_stays_held(
    admin: ApiSession,
) -> None:
    member = await new_project_member(admin)
    network = await create_network(member, cidr="10.63.0.0/24")
    server = await create_server(
        member, networks=[{"network_id": network["id"], "fixed_ip": "10.63.0.9"}]
    )
    await member.settle()
    (address,) = (await member.get(f"/servers/{server['id']}")).json()["addresses"]
    port_id = address["port_id"]

    deleted = await member.delete(f"/servers/{server['id']}")
    await member.settle()

    assert_error(await member.get(f"/servers/{server['id']}"), 404, "not_found")
    operation = (await member.get(f"/operations/{deleted.json()['operation_id']}")).json()
    assert operation["status"] == "succeeded"
    assert any(port_id in event["message"] for event in operation["events"])
    retries = (
        await admin.get("/operations", params={"resource_id": port_id, "all_projects": "true"})
    ).json()["items"]
    assert [(o["action"], o["status"]) for o in retries] == [("delete", "failed")]
    assert_error(await member.get(f"/ports/{port_id}"), 404, "not_found")
    assert port_id in {p.id for p in await member.runtime.driver.list_ports()}
    taken = await member.post("/ports", json={"network_id": network["id"], "fixed_ip": "10.63.0.9"})
    assert_error(taken, 409, "conflict")

    long_ago = utcnow() - timedelta(seconds=member.runtime.settings.operation_deadline_s + 1)
    async with unit_of_work(member.runtime.sessions, write=True) as session:
        await session.execute(update(Port).where(Port.id == port_id).values(deleted_at=long_ago))
    assert await sweep_network_leaks(member.runtime) == 1
    async with unit_of_work(member.runtime.sessions) as session:
        audited = await session.scalar(
            select(AuditEvent.action).where(AuditEvent.resource_id == port_id)
        )
    assert audited == "sweep.retry_port_delete"

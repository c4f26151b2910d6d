"""The leak sweep repairs ports and floating IPs left on servers that are gone, and audits it."""

from __future__ import annotations

from sqlalchemy import select, update
from tests.api.network.network_factories import (
    allocate_floating_ip,
    create_network,
    create_port,
    principal_of,
)
from tests.support.api import ApiSession
from tests.support.factories import active_server, new_project_member

from cloudplane.audit.models import AuditEvent
from cloudplane.compute.models import Server
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.network.schemas import NetworkRequest
from cloudplane.network.server_ports import allocate_server_ports
from cloudplane.network.sweeper import sweep_network_leaks


async def _soft_delete_server_row(api: ApiSession, server_id: str) -> None:
    """What a server delete that crashed before releasing its ports leaves behind."""
    async with unit_of_work(api.runtime.sessions, write=True) as session:
        await session.execute(
            update(Server)
            .where(Server.id == server_id)
            .values(deleted_at=utcnow(), deleted_key=server_id, status="DELETED")
        )


async def test_the_sweep_repairs_ports_and_floating_ips_of_a_deleted_server(
    admin: ApiSession,
) -> None:
    member = await new_project_member(admin)
    server = await active_server(member)
    network = await create_network(member, cidr="10.50.0.0/24")
    given = await create_port(member, network["id"], device_id=server["id"])
    async with unit_of_work(member.runtime.sessions, write=True) as session:
        (made,) = await allocate_server_ports(
            session,
            member.runtime,
            principal_of(member),
            server["id"],
            [NetworkRequest(network_id=network["id"])],
            [],
        )
    floating_ip = await allocate_floating_ip(member)
    await member.settle()
    associated = await member.post(
        f"/floating-ips/{floating_ip['id']}/associate", json={"port_id": given["id"]}
    )
    assert associated.status_code == 202, associated.text
    await member.settle()
    await _soft_delete_server_row(member, server["id"])

    repairs = await sweep_network_leaks(member.runtime)
    await member.settle()

    assert repairs == 3
    ports = {p["id"]: p for p in (await member.get("/ports")).json()["items"]}
    assert set(ports) == {given["id"]}
    assert ports[given["id"]]["device_id"] is None
    shown = (await member.get(f"/floating-ips/{floating_ip['id']}")).json()
    assert (shown["status"], shown["port_id"]) == ("DOWN", None)
    assert made.id not in {p.id for p in await member.runtime.driver.list_ports()}
    async with unit_of_work(member.runtime.sessions) as session:
        events = (
            await session.scalars(select(AuditEvent).where(AuditEvent.request_id == "sweeper"))
        ).all()
    assert {(e.action, e.resource_id) for e in events} == {
        ("sweep.release_port", made.id),
        ("sweep.unbind_port", given["id"]),
        ("sweep.disassociate_floating_ip", floating_ip["id"]),
    }
    assert {(e.user_id, e.project_id) for e in events} == {(None, member.project_id)}
    assert await sweep_network_leaks(member.runtime) == 0

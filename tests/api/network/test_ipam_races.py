"""Races that really race, on every engine: the IPAM, floating-IP association, default group."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from tests.api.network.network_factories import allocate_floating_ip, create_network, create_port
from tests.support.api import ApiSession, assert_error
from tests.support.databases import ALL_ENGINES
from tests.support.factories import create_server, new_project_member, set_quota


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_thirty_concurrent_ports_on_a_27_get_the_29_free_addresses_once_each(
    admin: ApiSession,
) -> None:
    network = await create_network(admin, cidr="10.30.0.0/27")  # 30 hosts, 1 gateway

    responses = await asyncio.gather(
        *(admin.post("/ports", json={"network_id": network["id"]}) for _ in range(30))
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 29, 409: 1}, [r.text for r in responses if r.status_code != 201]
    ips = [r.json()["fixed_ips"][0] for r in responses if r.status_code == 201]
    assert len(set(ips)) == 29
    assert set(ips) == {f"10.30.0.{n}" for n in range(2, 31)}
    (refused,) = [r for r in responses if r.status_code == 409]
    assert assert_error(refused, 409, "conflict")["details"]["reason"] == "ip_addresses_exhausted"
    macs = [r.json()["mac"] for r in responses if r.status_code == 201]
    assert len(set(macs)) == 29


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_concurrent_requests_for_one_fixed_ip_give_it_to_exactly_one_port(
    admin: ApiSession,
) -> None:
    network = await create_network(admin, cidr="10.31.0.0/24")
    body = {"network_id": network["id"], "fixed_ip": "10.31.0.77"}

    responses = await asyncio.gather(*(admin.post("/ports", json=body) for _ in range(10)))

    assert Counter(r.status_code for r in responses) == {201: 1, 409: 9}


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_twenty_concurrent_associations_of_one_floating_ip_make_exactly_one(
    admin: ApiSession,
) -> None:
    network = await create_network(admin, cidr="10.32.0.0/24")
    ports = [await create_port(admin, network["id"]) for _ in range(20)]
    floating_ip = await allocate_floating_ip(admin)

    responses = await asyncio.gather(
        *(
            admin.post(f"/floating-ips/{floating_ip['id']}/associate", json={"port_id": p["id"]})
            for p in ports
        )
    )

    assert Counter(r.status_code for r in responses) == {202: 1, 409: 19}
    (winner,) = [r.json() for r in responses if r.status_code == 202]
    await admin.settle()
    shown = (await admin.get(f"/floating-ips/{floating_ip['id']}")).json()
    assert (shown["port_id"], shown["status"]) == (winner["port_id"], "ACTIVE")


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_a_projects_first_ports_made_at_once_share_one_default_group(
    admin: ApiSession,
) -> None:
    shared = await create_network(admin, cidr="10.33.0.0/24", shared=True)
    member = await new_project_member(admin)

    responses = await asyncio.gather(
        *(member.post("/ports", json={"network_id": shared["id"]}) for _ in range(8))
    )

    assert {r.status_code for r in responses} == {201}, [r.text for r in responses]
    groups = {tuple(r.json()["security_groups"]) for r in responses}
    assert len(groups) == 1
    listed = (await member.get("/security-groups")).json()["items"]
    assert [g["name"] for g in listed] == ["default"]


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_seventy_concurrent_ports_on_a_26_use_each_of_its_61_addresses_once(
    admin: ApiSession,
) -> None:
    network = await create_network(admin, cidr="10.33.0.0/26")  # 62 hosts, 1 gateway

    responses = await asyncio.gather(
        *(admin.post("/ports", json={"network_id": network["id"]}) for _ in range(70))
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 61, 409: 9}
    ips = [r.json()["fixed_ips"][0] for r in responses if r.status_code == 201]
    assert len(set(ips)) == 61


@pytest.mark.engines
@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_twenty_concurrent_associations_to_different_servers_make_exactly_one(
    admin: ApiSession,
) -> None:
    await set_quota(admin, admin.project_id, servers=-1, vcpus=-1, ram_mb=-1)
    servers = [await create_server(admin) for _ in range(20)]
    await admin.settle()
    floating_ip = await allocate_floating_ip(admin)

    responses = await asyncio.gather(
        *(
            admin.post(f"/floating-ips/{floating_ip['id']}/associate", json={"server_id": s["id"]})
            for s in servers
        )
    )

    assert Counter(r.status_code for r in responses) == {202: 1, 409: 19}
    (winner,) = [r.json() for r in responses if r.status_code == 202]
    await admin.settle()
    shown = (await admin.get(f"/servers/{winner['server_id']}")).json()
    assert shown["floating_ips"] == [{"id": floating_ip["id"], "ip": floating_ip["ip"]}]

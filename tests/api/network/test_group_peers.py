"""The backend learns which addresses a security group stands for, as its members change."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select
from tests.api.network.network_factories import create_network, create_port, unique
from tests.support.api import ApiSession, assert_error, worker_held
from tests.support.databases import ALL_ENGINES
from tests.support.factories import active_server, create_server
from tests.support.held_calls import HeldCall

from cloudplane.audit.models import AuditEvent
from cloudplane.drivers.base import Capability
from cloudplane.drivers.network_contract import GroupPeers
from cloudplane.drivers.simulator import SimulatorDriver
from cloudplane.network.group_peers import reconcile_group_peers, request_peer_refresh


async def backend_peers(api: ApiSession) -> dict[str, set[str]]:
    return {peers.id: set(peers.addresses) for peers in await api.runtime.driver.list_group_peers()}


async def group_named(api: ApiSession, name: str) -> dict[str, Any]:
    (group,) = (await api.get("/security-groups", params={"name": name})).json()["items"]
    assert isinstance(group, dict)
    return group


async def new_group(api: ApiSession, *, admitting_itself: bool) -> dict[str, Any]:
    created = await api.post("/security-groups", json={"name": unique("sg")})
    assert created.status_code == 201, created.text
    group: dict[str, Any] = created.json()
    if admitting_itself:
        await add_rule(api, group["id"], remote_group_id=group["id"])
    return group


async def add_rule(api: ApiSession, group_id: str, **peer: str) -> None:
    rule = {"direction": "ingress", "protocol": "any", **peer}
    added = await api.post(f"/security-groups/{group_id}/rules", json=rule)
    assert added.status_code == 201, added.text


def ip_of(server: dict[str, Any]) -> str:
    (address,) = server["addresses"]
    ip: str = address["ip"]
    return ip


@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_servers_of_the_default_group_are_its_peers_until_they_are_deleted(
    admin: ApiSession,
) -> None:
    default = await group_named(admin, "default")
    first, second = await active_server(admin), await active_server(admin)

    assert (await backend_peers(admin))[default["id"]] == {ip_of(first), ip_of(second)}

    assert (await admin.delete(f"/servers/{second['id']}")).status_code == 202
    await admin.settle()
    assert (await backend_peers(admin))[default["id"]] == {ip_of(first)}


async def test_a_port_whose_groups_are_replaced_leaves_the_old_groups_peers(
    admin: ApiSession,
) -> None:
    default = await group_named(admin, "default")
    web = await new_group(admin, admitting_itself=True)
    network = await create_network(admin, cidr="10.31.0.0/24")
    port = await create_port(admin, network["id"])
    await admin.settle()
    (ip,) = port["fixed_ips"]
    assert ip in (await backend_peers(admin))[default["id"]]

    moved = await admin.patch(f"/ports/{port['id']}", json={"security_groups": [web["id"]]})
    assert moved.status_code == 200, moved.text
    await admin.settle()

    peers = await backend_peers(admin)
    assert ip not in peers[default["id"]]
    assert peers[web["id"]] == {ip}

    assert (await admin.delete(f"/ports/{port['id']}")).status_code == 204
    await admin.settle()
    assert (await backend_peers(admin))[web["id"]] == set()


async def test_a_group_gets_peers_once_a_rule_names_it_and_not_before(admin: ApiSession) -> None:
    await active_server(admin)  # a member of the default group, whose rules change below
    databases = await new_group(admin, admitting_itself=False)
    network = await create_network(admin, cidr="10.32.0.0/24")
    database_port = await create_port(admin, network["id"], security_groups=[databases["id"]])
    await admin.settle()
    assert databases["id"] not in await backend_peers(admin)  # no rule needs its members

    default = await group_named(admin, "default")
    await add_rule(admin, default["id"], remote_group_id=databases["id"])
    await admin.settle()

    assert (await backend_peers(admin))[databases["id"]] == set(database_port["fixed_ips"])


async def test_concurrent_boots_in_one_group_leave_every_server_its_peer(
    admin: ApiSession,
) -> None:
    default = await group_named(admin, "default")

    servers = await asyncio.gather(*(create_server(admin) for _ in range(8)))
    await admin.settle()

    shown = [(await admin.get(f"/servers/{s['id']}")).json() for s in servers]
    assert {s["status"] for s in shown} == {"ACTIVE"}
    assert (await backend_peers(admin))[default["id"]] == {ip_of(s) for s in shown}


@pytest.mark.parametrize("engine_name", ALL_ENGINES, indirect=True)
async def test_a_reconcile_repairs_changed_peers_and_drops_those_no_rule_needs(
    admin: ApiSession,
) -> None:
    default = await group_named(admin, "default")
    server = await active_server(admin)
    orphan = GroupPeers(id="7a1f0c3e-3c59-4c51-9a49-36f3c1f1d0aa", addresses=("10.9.9.9",))
    await admin.runtime.driver.set_group_peers(GroupPeers(id=default["id"], addresses=()))
    await admin.runtime.driver.set_group_peers(orphan)

    assert await reconcile_group_peers(admin.runtime) == 1

    peers = await backend_peers(admin)
    assert peers[default["id"]] == {ip_of(server)}
    assert orphan.id not in peers
    async with admin.runtime.sessions() as session:
        repairs = await session.scalars(
            select(AuditEvent.resource_id).where(AuditEvent.action == "reconcile.set_group_peers")
        )
        assert list(repairs) == [default["id"]]
    assert await reconcile_group_peers(admin.runtime) == 0  # nothing left to repair


async def test_a_stale_list_pushed_last_by_one_worker_is_pushed_again_by_it(
    admin: ApiSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = await group_named(admin, "default")
    server = await active_server(admin)
    network_id = server["addresses"][0]["network_id"]
    driver = admin.runtime.driver
    other_workers_push = driver.set_group_peers
    held = HeldCall(monkeypatch, driver, "set_group_peers")

    request_peer_refresh(admin.runtime, [default["id"]])
    await held.reached()  # this worker has read the members: the server alone
    async with worker_held(admin.runtime):
        port = await create_port(admin, network_id)  # a member now; its operation waits
        everyone = {ip_of(server), *port["fixed_ips"]}
        # Another worker read after the port came and pushed first.
        await other_workers_push(GroupPeers(id=default["id"], addresses=tuple(everyone)))
        held.release()  # this worker's older list lands last...
        await admin.runtime.peer_refreshes.wait_idle()

        # ...and its check after the push found the members changed and pushed again.
        assert (await backend_peers(admin))[default["id"]] == everyone


@pytest.mark.parametrize(
    ("missing", "refused_protocols"),
    [
        ({Capability.GROUP_PEERS, Capability.GROUP_PEERS_WITH_PROTOCOL}, {"any", "tcp"}),
        ({Capability.GROUP_PEERS_WITH_PROTOCOL}, {"tcp"}),  # as on libvirt
    ],
)
async def test_a_rule_naming_a_group_the_backend_cannot_admit_is_501_and_not_stored(
    admin: ApiSession,
    monkeypatch: pytest.MonkeyPatch,
    missing: set[Capability],
    refused_protocols: set[str],
) -> None:
    monkeypatch.setattr(
        SimulatorDriver, "capabilities", property(lambda _self: frozenset(Capability) - missing)
    )
    default = await group_named(admin, "default")
    before = (await admin.get(f"/security-groups/{default['id']}")).json()["rules"]

    answers = {}
    for protocol in ("any", "tcp"):
        rule = {"direction": "ingress", "protocol": protocol, "remote_group_id": default["id"]}
        answers[protocol] = await admin.post(f"/security-groups/{default['id']}/rules", json=rule)

    for protocol, answer in answers.items():
        if protocol in refused_protocols:
            assert_error(answer, 501, "not_supported")
        else:
            assert answer.status_code == 201, answer.text
    after = (await admin.get(f"/security-groups/{default['id']}")).json()["rules"]
    assert len(after) == len(before) + 2 - len(refused_protocols)

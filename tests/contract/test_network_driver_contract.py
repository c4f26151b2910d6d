"""Every postcondition of ``NetworkDriver``, checked against every driver.

Tests only rely on what ``cloudplane.drivers.network_contract`` promises. They use fresh ids
and never assume the backend holds nothing else.
"""

from __future__ import annotations

import ipaddress
import uuid
from pathlib import Path

import pytest

from cloudplane.drivers.base import Capability, ComputeDriver
from cloudplane.drivers.errors import DriverError, ResourceNotFound, Unsupported
from cloudplane.drivers.network_contract import (
    AddressRange,
    Ethertype,
    FloatingIpSpec,
    GroupPeers,
    NetworkDriver,
    NetworkSpec,
    PortSpec,
    RuleDirection,
    RuleProtocol,
    SecurityRuleSpec,
)
from tests.contract.conftest import DRIVER_FACTORIES, remove_what_it_left


@pytest.fixture
def network_driver(driver: ComputeDriver) -> NetworkDriver:
    assert isinstance(driver, NetworkDriver)
    return driver


def new_id() -> str:
    return str(uuid.uuid4())


def network_spec(cidr: str = "10.20.0.0/24") -> NetworkSpec:
    """A network on ``cidr`` with its first address as the gateway and the rest as its pool."""
    hosts = list(ipaddress.ip_network(cidr).hosts())
    return NetworkSpec(
        id=new_id(),
        name="contract-net",
        cidr=cidr,
        gateway_ip=str(hosts[0]),
        allocation_pools=(AddressRange(str(hosts[1]), str(hosts[-1])),),
    )


def port_spec(network_id: str, ip: str = "10.20.0.10", mac: str = "fa:16:3e:00:00:01") -> PortSpec:
    return PortSpec(id=new_id(), network_id=network_id, mac=mac, fixed_ips=(ip,))


def ssh_rule() -> SecurityRuleSpec:
    return SecurityRuleSpec(
        id=new_id(),
        direction=RuleDirection.INGRESS,
        protocol=RuleProtocol.TCP,
        ethertype=Ethertype.IPV4,
        port_min=22,
        port_max=22,
        remote_cidr="0.0.0.0/0",
    )


async def made_port(driver: NetworkDriver) -> PortSpec:
    network = network_spec()
    await driver.create_network(network)
    port = port_spec(network.id)
    await driver.create_port(port)
    return port


def floating_ip_for(port: PortSpec, ip: str = "203.0.113.5") -> FloatingIpSpec:
    return FloatingIpSpec(
        id=new_id(), ip=ip, network_id=new_id(), port_id=port.id, fixed_ip=port.fixed_ips[0]
    )


# --- networks -------------------------------------------------------------------------------


async def test_a_created_network_is_listed(network_driver: NetworkDriver) -> None:
    spec = network_spec()

    created = await network_driver.create_network(spec)

    assert created.id == spec.id
    assert spec.id in {n.id for n in await network_driver.list_networks()}


async def test_creating_a_network_twice_returns_one_network(network_driver: NetworkDriver) -> None:
    spec = network_spec()

    first = await network_driver.create_network(spec)
    second = await network_driver.create_network(spec)

    assert first == second
    assert [n.id for n in await network_driver.list_networks()].count(spec.id) == 1


async def test_deleting_a_network_removes_it_and_its_ports(network_driver: NetworkDriver) -> None:
    port = await made_port(network_driver)

    await network_driver.delete_network(port.network_id)

    assert port.network_id not in {n.id for n in await network_driver.list_networks()}
    assert port.id not in {p.id for p in await network_driver.list_ports()}


async def test_deleting_an_unknown_network_succeeds(network_driver: NetworkDriver) -> None:
    await network_driver.delete_network(new_id())


# --- ports ----------------------------------------------------------------------------------


async def test_a_created_port_has_exactly_the_given_mac_and_addresses(
    network_driver: NetworkDriver,
) -> None:
    port = await made_port(network_driver)

    listed = {p.id: p for p in await network_driver.list_ports()}[port.id]

    assert listed.mac == port.mac
    assert listed.fixed_ips == port.fixed_ips
    assert listed.network_id == port.network_id


async def test_creating_a_port_twice_returns_one_port(network_driver: NetworkDriver) -> None:
    port = await made_port(network_driver)

    again = await network_driver.create_port(port)

    assert again.id == port.id
    assert [p.id for p in await network_driver.list_ports()].count(port.id) == 1


async def test_a_port_on_an_unknown_network_is_resource_not_found(
    network_driver: NetworkDriver,
) -> None:
    with pytest.raises(ResourceNotFound) as raised:
        await network_driver.create_port(port_spec(new_id()))

    assert raised.value.kind == "network"


async def test_deleting_a_port_twice_and_an_unknown_port_succeed(
    network_driver: NetworkDriver,
) -> None:
    port = await made_port(network_driver)

    await network_driver.delete_port(port.id)
    await network_driver.delete_port(port.id)
    await network_driver.delete_port(new_id())

    assert port.id not in {p.id for p in await network_driver.list_ports()}


# --- floating IPs ---------------------------------------------------------------------------


@pytest.mark.needs(Capability.FLOATING_IPS)
async def test_an_associated_floating_ip_is_listed_with_its_port(
    network_driver: NetworkDriver,
) -> None:
    port = await made_port(network_driver)
    spec = floating_ip_for(port)

    info = await network_driver.associate_floating_ip(spec)
    again = await network_driver.associate_floating_ip(spec)

    assert info == again
    listed = {f.id: f for f in await network_driver.list_floating_ips()}[spec.id]
    assert (listed.ip, listed.port_id, listed.fixed_ip) == (spec.ip, port.id, port.fixed_ips[0])


@pytest.mark.needs(Capability.FLOATING_IPS)
async def test_associating_with_another_port_moves_the_floating_ip(
    network_driver: NetworkDriver,
) -> None:
    first = await made_port(network_driver)
    second = port_spec(first.network_id, ip="10.20.0.11", mac="fa:16:3e:00:00:0b")
    await network_driver.create_port(second)
    spec = floating_ip_for(first)
    await network_driver.associate_floating_ip(spec)

    moved = FloatingIpSpec(spec.id, spec.ip, spec.network_id, second.id, second.fixed_ips[0])
    await network_driver.associate_floating_ip(moved)

    listed = [f for f in await network_driver.list_floating_ips() if f.id == spec.id]
    assert [f.port_id for f in listed] == [second.id]


@pytest.mark.needs(Capability.FLOATING_IPS)
async def test_association_needs_a_known_port_and_one_of_its_addresses(
    network_driver: NetworkDriver,
) -> None:
    port = await made_port(network_driver)

    with pytest.raises(ResourceNotFound):
        await network_driver.associate_floating_ip(
            FloatingIpSpec(new_id(), "203.0.113.6", new_id(), new_id(), "10.20.0.10")
        )
    with pytest.raises(DriverError) as raised:
        await network_driver.associate_floating_ip(
            FloatingIpSpec(new_id(), "203.0.113.7", new_id(), port.id, "10.20.0.99")
        )
    assert raised.value.code == "invalid_address"


@pytest.mark.needs(Capability.FLOATING_IPS)
async def test_disassociating_removes_the_mapping_and_repeats_safely(
    network_driver: NetworkDriver,
) -> None:
    spec = floating_ip_for(await made_port(network_driver))
    await network_driver.associate_floating_ip(spec)

    await network_driver.disassociate_floating_ip(spec.id)
    await network_driver.disassociate_floating_ip(spec.id)
    await network_driver.disassociate_floating_ip(new_id())

    assert spec.id not in {f.id for f in await network_driver.list_floating_ips()}


@pytest.mark.needs(Capability.FLOATING_IPS)
async def test_deleting_a_port_removes_floating_ip_mappings_onto_it(
    network_driver: NetworkDriver,
) -> None:
    port = await made_port(network_driver)
    spec = floating_ip_for(port)
    await network_driver.associate_floating_ip(spec)

    await network_driver.delete_port(port.id)

    assert spec.id not in {f.id for f in await network_driver.list_floating_ips()}


# --- security groups ------------------------------------------------------------------------


@pytest.mark.needs(Capability.SECURITY_GROUPS)
async def test_a_port_is_created_with_its_rules(network_driver: NetworkDriver) -> None:
    network = network_spec()
    await network_driver.create_network(network)
    port = PortSpec(
        id=new_id(),
        network_id=network.id,
        mac="fa:16:3e:00:00:02",
        fixed_ips=("10.20.0.12",),
        security_rules=(ssh_rule(),),
    )

    await network_driver.create_port(port)

    listed = {p.id: p for p in await network_driver.list_ports()}[port.id]
    assert listed.security_rules == port.security_rules


@pytest.mark.needs(Capability.SECURITY_GROUPS)
async def test_applying_rules_replaces_the_ports_rules(network_driver: NetworkDriver) -> None:
    port = await made_port(network_driver)
    first, second = ssh_rule(), ssh_rule()

    await network_driver.apply_security_groups(port.id, [first])
    await network_driver.apply_security_groups(port.id, [second])

    listed = {p.id: p for p in await network_driver.list_ports()}[port.id]
    assert listed.security_rules == (second,)


@pytest.mark.needs(Capability.SECURITY_GROUPS)
async def test_applying_rules_to_an_unknown_port_is_resource_not_found(
    network_driver: NetworkDriver,
) -> None:
    with pytest.raises(ResourceNotFound) as raised:
        await network_driver.apply_security_groups(new_id(), [ssh_rule()])

    assert raised.value.kind == "port"


# --- the peers of security groups ----------------------------------------------------------


async def listed_peers(network_driver: NetworkDriver) -> dict[str, set[str]]:
    return {peers.id: set(peers.addresses) for peers in await network_driver.list_group_peers()}


@pytest.mark.needs(Capability.GROUP_PEERS)
async def test_a_groups_peers_are_listed_as_set(network_driver: NetworkDriver) -> None:
    peers = GroupPeers(id=new_id(), addresses=("10.20.0.5", "10.20.0.6", "fd00::5"))

    await network_driver.set_group_peers(peers)
    await network_driver.set_group_peers(peers)  # a repeat changes nothing

    assert (await listed_peers(network_driver))[peers.id] == set(peers.addresses)


@pytest.mark.needs(Capability.GROUP_PEERS)
async def test_setting_a_groups_peers_again_replaces_them(network_driver: NetworkDriver) -> None:
    group_id = new_id()
    await network_driver.set_group_peers(GroupPeers(group_id, ("10.20.0.5", "10.20.0.6")))

    await network_driver.set_group_peers(GroupPeers(group_id, ("10.20.0.6", "10.20.0.7")))
    other = GroupPeers(new_id(), ("10.20.0.9",))
    await network_driver.set_group_peers(other)

    listed = await listed_peers(network_driver)
    assert listed[group_id] == {"10.20.0.6", "10.20.0.7"}
    assert listed[other.id] == {"10.20.0.9"}


@pytest.mark.needs(Capability.GROUP_PEERS)
async def test_a_group_may_have_no_peers(network_driver: NetworkDriver) -> None:
    group_id = new_id()
    await network_driver.set_group_peers(GroupPeers(group_id, ("10.20.0.5",)))

    await network_driver.set_group_peers(GroupPeers(group_id, ()))

    assert (await listed_peers(network_driver))[group_id] == set()


@pytest.mark.needs(Capability.GROUP_PEERS)
async def test_deleted_peers_are_not_listed_and_unknown_ones_delete(
    network_driver: NetworkDriver,
) -> None:
    peers = GroupPeers(id=new_id(), addresses=("10.20.0.5",))
    await network_driver.set_group_peers(peers)

    await network_driver.delete_group_peers(peers.id)
    await network_driver.delete_group_peers(peers.id)
    await network_driver.delete_group_peers(new_id())

    assert peers.id not in await listed_peers(network_driver)


@pytest.mark.needs(Capability.SECURITY_GROUPS, Capability.GROUP_PEERS)
async def test_a_rule_naming_a_group_reads_back_unchanged_as_its_peers_change(
    network_driver: NetworkDriver,
) -> None:
    await _assert_group_rule_survives_peer_changes(network_driver, RuleProtocol.ANY)


@pytest.mark.needs(
    Capability.SECURITY_GROUPS, Capability.GROUP_PEERS, Capability.GROUP_PEERS_WITH_PROTOCOL
)
async def test_a_rule_with_a_protocol_naming_a_group_reads_back_unchanged_as_its_peers_change(
    network_driver: NetworkDriver,
) -> None:
    await _assert_group_rule_survives_peer_changes(network_driver, RuleProtocol.TCP)


async def _assert_group_rule_survives_peer_changes(
    network_driver: NetworkDriver, protocol: RuleProtocol
) -> None:
    group_id = new_id()
    port = await made_port(network_driver)
    rule = SecurityRuleSpec(
        id=new_id(),
        direction=RuleDirection.INGRESS,
        protocol=protocol,
        ethertype=Ethertype.IPV4,
        port_min=None if protocol is RuleProtocol.ANY else 5432,
        port_max=None if protocol is RuleProtocol.ANY else 5432,
        remote_group_id=group_id,
    )
    await network_driver.apply_security_groups(port.id, [rule])

    await network_driver.set_group_peers(GroupPeers(group_id, ("10.20.0.10", "10.20.0.11")))
    await network_driver.set_group_peers(GroupPeers(group_id, ("10.20.0.10",)))

    listed = {p.id: p for p in await network_driver.list_ports()}[port.id]
    assert listed.security_rules == (rule,)
    assert (await listed_peers(network_driver))[group_id] == {"10.20.0.10"}
    await network_driver.delete_group_peers(group_id)
    listed = {p.id: p for p in await network_driver.list_ports()}[port.id]
    assert listed.security_rules == (rule,)


@pytest.mark.lacks(Capability.GROUP_PEERS)
async def test_without_group_peers_none_can_be_set(network_driver: NetworkDriver) -> None:
    with pytest.raises(Unsupported):
        await network_driver.set_group_peers(GroupPeers(new_id(), ("10.20.0.5",)))

    assert await network_driver.list_group_peers() == []
    await network_driver.delete_group_peers(new_id())  # nothing to forget, and no error


# --- persistence ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DRIVER_FACTORIES))
async def test_network_state_survives_a_new_driver_over_the_same_directory(
    tmp_path: Path, name: str
) -> None:
    first = DRIVER_FACTORIES[name](tmp_path)
    await first.open()
    assert isinstance(first, NetworkDriver)
    port = await made_port(first)
    peers = None
    if Capability.GROUP_PEERS in first.capabilities:
        peers = GroupPeers(id=new_id(), addresses=("10.20.0.5",))
        await first.set_group_peers(peers)
    await first.close()

    second = DRIVER_FACTORIES[name](tmp_path)
    await second.open()
    try:
        assert isinstance(second, NetworkDriver)
        assert port.id in {p.id for p in await second.list_ports()}
        assert port.network_id in {n.id for n in await second.list_networks()}
        if peers is not None:
            assert peers in await second.list_group_peers()
    finally:
        await second.close()
        remove_what_it_left(name, tmp_path)

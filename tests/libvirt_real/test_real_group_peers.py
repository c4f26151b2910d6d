"""A rule with a protocol whose peer is a security group admits, on the real host, exactly the
group's members as they change, and only to the rule's port.

Namespaces stand in for the guest and its neighbours (``namespaces``); the port's filter is
bound to the guest namespace's link as libvirt binds it to a guest's tap device.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace

import libvirt
import pytest

from cloudplane.drivers.libvirt.driver import LibvirtDriver
from cloudplane.drivers.libvirt.filter_xml import port_filter_xml, same_rules
from cloudplane.drivers.libvirt.peer_sets import PeerSets
from cloudplane.drivers.network_contract import (
    Ethertype,
    GroupPeers,
    RuleDirection,
    RuleProtocol,
    SecurityRuleSpec,
)
from tests.contract.test_network_driver_contract import network_spec, new_id, port_spec
from tests.libvirt_real.namespaces import (
    SERVICE_PORT,
    Namespace,
    bind_filter,
    connects,
    plugged_into,
)

GUEST_IP, MEMBER_IP, STRANGER_IP = "10.48.0.10", "10.48.0.11", "10.48.0.12"


@pytest.mark.parametrize(
    "ports",
    [(SERVICE_PORT, SERVICE_PORT), None],
    ids=["port-range-as-a-set-of-pairs", "any-port-as-listed-members"],
)
async def test_a_rule_with_a_protocol_admits_exactly_the_groups_members_as_they_change(
    driver: LibvirtDriver,
    host: libvirt.virConnect,
    namespaces: list[Namespace],
    bindings: list[str],
    ports: tuple[int, int] | None,
) -> None:
    network = network_spec("10.48.0.0/24")
    await driver.create_network(network)
    group_id = new_id()
    rule = tcp_from_group(group_id, ports)
    port = replace(port_spec(network.id, GUEST_IP), security_rules=(rule,))
    await driver.create_port(port)
    await driver.set_group_peers(GroupPeers(group_id, (GUEST_IP, MEMBER_IP)))

    bridge = host.networkLookupByName(driver.options.network_name(network.id)).bridgeName()
    guest, guest_link = plugged_into(namespaces, "g", bridge, f"{GUEST_IP}/24", port.mac)
    bind_filter(host, guest_link, port.mac, driver.options.port_filter_name(port.id))
    bindings.append(guest_link)
    member, _ = plugged_into(namespaces, "m", bridge, f"{MEMBER_IP}/24")
    stranger, _ = plugged_into(namespaces, "s", bridge, f"{STRANGER_IP}/24")

    assert connects(guest, GUEST_IP, member)
    assert not connects(guest, GUEST_IP, stranger)
    # Another port: only a rule for any port admits it.
    assert connects(guest, GUEST_IP, member, SERVICE_PORT + 1) is (ports is None)

    await driver.set_group_peers(GroupPeers(group_id, (GUEST_IP, STRANGER_IP)))

    assert connects(guest, GUEST_IP, stranger)
    assert not connects(guest, GUEST_IP, member)

    await driver.delete_group_peers(group_id)

    assert not connects(guest, GUEST_IP, stranger)


def tcp_from_group(group_id: str, ports: tuple[int, int] | None) -> SecurityRuleSpec:
    return SecurityRuleSpec(
        id=new_id(),
        direction=RuleDirection.INGRESS,
        protocol=RuleProtocol.TCP,
        ethertype=Ethertype.IPV4,
        port_min=ports[0] if ports else None,
        port_max=ports[1] if ports else None,
        remote_group_id=group_id,
    )


def set_entries(name: str) -> set[str] | None:
    """What the host's ipset ``name`` holds; None when there is no such set."""
    saved = subprocess.run(["ipset", "save", name], capture_output=True, text=True, check=False)
    if saved.returncode != 0:
        return None
    return {line.split()[2] for line in saved.stdout.splitlines() if line.startswith("add ")}


async def test_a_rules_set_of_pairs_follows_the_members_and_goes_with_the_last_filter_naming_it(
    driver: LibvirtDriver,
) -> None:
    network = network_spec("10.48.0.0/24")
    await driver.create_network(network)
    group_id = new_id()
    rule = tcp_from_group(group_id, (5432, 5433))
    first = replace(port_spec(network.id, GUEST_IP), security_rules=(rule,))
    second = replace(
        port_spec(network.id, MEMBER_IP), mac="fa:16:3e:48:00:11", security_rules=(rule,)
    )
    for port in (first, second):
        await driver.create_port(port)
    pairs = PeerSets(driver.options.name_prefix).pair_set_name(rule.id, 4)
    assert set_entries(pairs) == set()  # made before a filter named it, empty for now

    await driver.set_group_peers(GroupPeers(group_id, (GUEST_IP, MEMBER_IP, "fd00::9")))
    assert set_entries(pairs) == {
        f"{address},tcp:{port}" for address in (GUEST_IP, MEMBER_IP) for port in (5432, 5433)
    }

    await driver.delete_port(second.id)
    assert set_entries(pairs) is not None  # the first port's filter still names it
    await driver.apply_security_groups(first.id, [])
    assert set_entries(pairs) is None

    # Named again, it is filled from the group's set at once.
    await driver.apply_security_groups(first.id, [rule])
    assert set_entries(pairs) == {
        f"{address},tcp:{port}" for address in (GUEST_IP, MEMBER_IP) for port in (5432, 5433)
    }
    await driver.delete_network(network.id)
    assert set_entries(pairs) is None


async def test_libvirt_renders_a_filter_listing_members_as_the_driver_compares_it(
    driver: LibvirtDriver, host: libvirt.virConnect
) -> None:
    network = network_spec("10.48.0.0/24")
    await driver.create_network(network)
    group_id = new_id()
    rule = SecurityRuleSpec(
        id=new_id(),
        direction=RuleDirection.EGRESS,
        protocol=RuleProtocol.UDP,
        ethertype=Ethertype.IPV4,
        remote_group_id=group_id,
    )
    port = replace(port_spec(network.id, GUEST_IP), security_rules=(rule,))
    await driver.create_port(port)
    peers = GroupPeers(group_id, (MEMBER_IP, STRANGER_IP))
    await driver.set_group_peers(peers)
    name = driver.options.port_filter_name(port.id)

    # libvirt's own rendering of the filter compares equal to what the driver would write,
    # which is what spares running guests a rebuild of their firewall at an unchanged push.
    defined = host.nwfilterLookupByName(name).XMLDesc(0)
    expected = port_filter_xml(
        name,
        [rule],
        address=GUEST_IP,
        peer_sets=PeerSets(driver.options.name_prefix),
        members={group_id: peers.addresses},
    )
    assert same_rules(defined, expected)
    assert MEMBER_IP in defined
    assert STRANGER_IP in defined

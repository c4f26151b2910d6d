"""A rule with a protocol whose peer is a security group admits, on the real host, exactly the
group's members as they change, and only to the rule's port.

Namespaces stand in for the guest and its neighbours (``namespaces``); the port's filter is
bound to the guest namespace's link as libvirt binds it to a guest's tap device.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import libvirt
import pytest

from cloudplane.drivers.libvirt.driver import LibvirtDriver
from cloudplane.drivers.libvirt.filter_xml import port_filter_xml, same_rules
from cloudplane.drivers.network_contract import (
    Ethertype,
    GroupPeers,
    RuleDirection,
    RuleProtocol,
    SecurityRuleSpec,
)
from tests.contract.test_network_driver_contract import network_spec, new_id, port_spec
from tests.libvirt_real.namespaces import SERVICE_PORT, Namespace, ask, plugged_into, serve_once

GUEST_IP, MEMBER_IP, STRANGER_IP = "10.48.0.10", "10.48.0.11", "10.48.0.12"


@pytest.fixture
def bindings(host: libvirt.virConnect) -> Iterator[list[str]]:
    """Links the test binds port filters to; the bindings go before the filters can."""
    bound: list[str] = []
    yield bound
    for link in bound:
        host.nwfilterBindingLookupByPortDev(link).delete()


def bind_filter(host: libvirt.virConnect, link: str, mac: str, filter_name: str) -> None:
    host.nwfilterBindingCreateXML(
        f"<filterbinding><owner><name>{link}</name><uuid>{uuid.uuid4()}</uuid></owner>"
        f"<portdev name='{link}'/><mac address='{mac}'/>"
        f"<filterref filter='{filter_name}'/></filterbinding>",
        0,
    )


def answers(guest: Namespace, client: Namespace, port: int = SERVICE_PORT) -> bool:
    """Whether a connection from ``client`` to the guest passes (and comes from its address)."""
    server = serve_once(guest, GUEST_IP, port)
    try:
        heard = ask(client, GUEST_IP, port)
    finally:
        server.kill()
        server.wait()
    return not heard.startswith("error")


async def test_a_rule_with_a_protocol_admits_exactly_the_groups_members_as_they_change(
    driver: LibvirtDriver,
    host: libvirt.virConnect,
    namespaces: list[Namespace],
    bindings: list[str],
) -> None:
    network = network_spec("10.48.0.0/24")
    await driver.create_network(network)
    group_id = new_id()
    rule = SecurityRuleSpec(
        id=new_id(),
        direction=RuleDirection.INGRESS,
        protocol=RuleProtocol.TCP,
        ethertype=Ethertype.IPV4,
        port_min=SERVICE_PORT,
        port_max=SERVICE_PORT,
        remote_group_id=group_id,
    )
    port = replace(port_spec(network.id, GUEST_IP), security_rules=(rule,))
    await driver.create_port(port)
    await driver.set_group_peers(GroupPeers(group_id, (GUEST_IP, MEMBER_IP)))

    bridge = host.networkLookupByName(driver.options.network_name(network.id)).bridgeName()
    guest, guest_link = plugged_into(namespaces, "g", bridge, f"{GUEST_IP}/24", port.mac)
    bind_filter(host, guest_link, port.mac, driver.options.port_filter_name(port.id))
    bindings.append(guest_link)
    member, _ = plugged_into(namespaces, "m", bridge, f"{MEMBER_IP}/24")
    stranger, _ = plugged_into(namespaces, "s", bridge, f"{STRANGER_IP}/24")

    assert answers(guest, member)
    assert not answers(guest, stranger)
    assert not answers(guest, member, SERVICE_PORT + 1)  # the rule's port only

    await driver.set_group_peers(GroupPeers(group_id, (GUEST_IP, STRANGER_IP)))

    assert answers(guest, stranger)
    assert not answers(guest, member)

    await driver.delete_group_peers(group_id)

    assert not answers(guest, stranger)


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
        port_min=53,
        port_max=53,
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
        peer_set=lambda group, version: f"unused{version}",
        members={group_id: peers.addresses},
    )
    assert same_rules(defined, expected)
    assert MEMBER_IP in defined
    assert STRANGER_IP in defined

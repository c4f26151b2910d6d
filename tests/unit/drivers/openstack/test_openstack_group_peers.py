"""A rule whose peer is a group, in Neutron: an address group holding the group's peers, or, on
a cloud without address groups, an empty security group that admits nobody."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.contract.test_network_driver_contract import network_spec, new_id
from tests.openstack_cloud.drivers import local_cloud_options
from tests.openstack_cloud.state import Cloud

from cloudplane.drivers.base import Capability
from cloudplane.drivers.errors import Unsupported
from cloudplane.drivers.network_contract import (
    Ethertype,
    GroupPeers,
    PortSpec,
    RuleDirection,
    RuleProtocol,
    SecurityRuleSpec,
)
from cloudplane.drivers.openstack.driver import OpenStackDriver


async def port_admitting(driver: OpenStackDriver, group_id: str) -> SecurityRuleSpec:
    """A port whose one rule admits group ``group_id``'s peers on port 5432."""
    network = network_spec("10.40.0.0/24")
    rule = SecurityRuleSpec(
        id=new_id(),
        direction=RuleDirection.INGRESS,
        protocol=RuleProtocol.TCP,
        ethertype=Ethertype.IPV4,
        port_min=5432,
        port_max=5432,
        remote_group_id=group_id,
    )
    await driver.create_network(network)
    port = PortSpec(
        id=new_id(),
        network_id=network.id,
        mac="fa:16:3e:00:00:40",
        fixed_ips=("10.40.0.10",),
        security_rules=(rule,),
    )
    await driver.create_port(port)
    return rule


def neutron_rule(cloud: Cloud, rule_id: str) -> dict[str, Any]:
    found: dict[str, Any]
    (found,) = (
        r
        for group in cloud.security_groups.values()
        for r in group["security_group_rules"]
        if r["description"] == f"cloudplane:{rule_id}"
    )
    return found


async def test_a_groups_peers_are_a_neutron_address_group_that_its_rules_name(
    driver: OpenStackDriver, cloud: Cloud
) -> None:
    group_id = new_id()
    rule = await port_admitting(driver, group_id)

    await driver.set_group_peers(GroupPeers(group_id, ("10.40.0.11", "10.40.0.12", "fd00::12")))
    await driver.set_group_peers(GroupPeers(group_id, ("10.40.0.12", "fd00::12", "10.40.0.13")))

    (address_group,) = cloud.address_groups.values()
    assert address_group["name"] == f"cloudplane-group-{group_id}"
    assert set(address_group["addresses"]) == {"10.40.0.12/32", "10.40.0.13/32", "fd00::12/128"}
    stored = neutron_rule(cloud, rule.id)
    assert stored["remote_address_group_id"] == address_group["id"]
    assert stored["remote_group_id"] is None
    # Peers with a protocol work here (Neutron matches them), unlike on libvirt.
    (listed,) = [p for p in await driver.list_ports() if rule in p.security_rules]
    assert listed.security_rules == (rule,)


async def test_an_address_group_a_rule_still_names_is_emptied_not_deleted(
    driver: OpenStackDriver, cloud: Cloud
) -> None:
    named, unnamed = new_id(), new_id()
    await port_admitting(driver, named)
    for group_id in (named, unnamed):
        await driver.set_group_peers(GroupPeers(group_id, ("10.40.0.11",)))

    for group_id in (named, unnamed):
        await driver.delete_group_peers(group_id)

    assert {p.id: p.addresses for p in await driver.list_group_peers()} == {named: ()}
    assert [g["name"] for g in cloud.address_groups.values()] == [f"cloudplane-group-{named}"]


async def test_without_address_groups_a_peer_group_is_an_empty_security_group(
    cloud: Cloud, tmp_path: Path
) -> None:
    cloud.network_extensions.discard("address-group")
    driver = OpenStackDriver(local_cloud_options(tmp_path))
    await driver.open()
    try:
        group_id = new_id()
        # The cloud refuses ``remote_address_group_id`` here, so the rule is the older form.
        rule = await port_admitting(driver, group_id)
        assert Capability.GROUP_PEERS not in driver.capabilities  # learnt at the first call

        stored = neutron_rule(cloud, rule.id)
        peer = cloud.security_groups[stored["remote_group_id"]]
        assert peer["name"] == f"cloudplane-group-{group_id}"
        assert not [p for p in cloud.ports.values() if peer["id"] in p["security_groups"]]
        with pytest.raises(Unsupported):
            await driver.set_group_peers(GroupPeers(group_id, ("10.40.0.11",)))
        assert await driver.list_group_peers() == []
    finally:
        await driver.close()

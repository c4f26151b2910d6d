"""A port's network filter on the real daemon lives exactly as long as the port."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

import libvirt

from cloudplane.drivers.libvirt.driver import LibvirtDriver
from cloudplane.drivers.libvirt.filter_xml import drops_spoofed_traffic, rules_of_filter
from tests.contract.test_network_driver_contract import network_spec, port_spec, ssh_rule


def _filters(host: libvirt.virConnect, driver: LibvirtDriver) -> set[str]:
    prefix = driver.options.port_filter_name("")
    return {f.name() for f in host.listAllNWFilters(0) if f.name().startswith(prefix)}


async def test_a_ports_filter_goes_with_the_port_and_with_its_network(
    driver: LibvirtDriver, host: libvirt.virConnect
) -> None:
    network = network_spec()
    await driver.create_network(network)
    first = replace(port_spec(network.id, "10.20.0.10"), security_rules=(ssh_rule(),))
    second = replace(
        port_spec(network.id, "10.20.0.11"), mac="fa:16:3e:00:00:02", security_rules=(ssh_rule(),)
    )
    for port in (first, second):
        await driver.create_port(port)
    names = {driver.options.port_filter_name(p.id) for p in (first, second)}
    assert _filters(host, driver) == names

    await driver.delete_port(first.id)
    assert _filters(host, driver) == {driver.options.port_filter_name(second.id)}

    await driver.delete_network(network.id)
    assert _filters(host, driver) == set()


async def test_a_filter_written_without_the_spoofing_drop_gets_it_when_a_driver_opens(
    driver: LibvirtDriver, host: libvirt.virConnect
) -> None:
    network = network_spec()
    await driver.create_network(network)
    port = replace(port_spec(network.id), security_rules=(ssh_rule(),))
    await driver.create_port(port)
    name = driver.options.port_filter_name(port.id)
    host.nwfilterDefineXML(_as_an_older_version_wrote_it(host.nwfilterLookupByName(name)))
    assert not drops_spoofed_traffic(host.nwfilterLookupByName(name).XMLDesc(0))

    reopened = LibvirtDriver(driver.options)
    await reopened.open()
    await reopened.close()

    definition = host.nwfilterLookupByName(name).XMLDesc(0)
    assert drops_spoofed_traffic(definition)
    assert rules_of_filter(definition) == port.security_rules


def _as_an_older_version_wrote_it(port_filter: libvirt.virNWFilter) -> str:
    """The filter's definition without its drop of spoofed traffic."""
    root = ET.fromstring(port_filter.XMLDesc(0))
    for rule in root.findall("rule"):
        if rule.get("action") == "drop" and rule.get("direction") == "out":
            root.remove(rule)
    return ET.tostring(root, encoding="unicode")

"""A port's network filter on the real daemon lives exactly as long as the port."""

from __future__ import annotations

from dataclasses import replace

import libvirt

from cloudplane.drivers.libvirt.driver import LibvirtDriver
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

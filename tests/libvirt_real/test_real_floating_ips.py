"""Floating IPs on the real host carry traffic: connections to the floating IP reach the port's
address, and the port's own connections leave as the floating IP.

The port's address is held by a network namespace plugged into the port's libvirt network, and
a second namespace, routed through this host, plays a client elsewhere (``namespaces``).
"""

from __future__ import annotations

import ipaddress

import libvirt

from cloudplane.drivers.libvirt.driver import LibvirtDriver
from cloudplane.drivers.network_contract import (
    FloatingIpSpec,
    PortSpec,
)
from tests.contract.test_network_driver_contract import network_spec, new_id
from tests.libvirt_real.namespaces import (
    Namespace,
    ask,
    ip,
    new_namespace,
    plugged_into,
    serve_once,
)

FLOATING_IP = "203.0.113.47"
FIXED_IP = "10.47.0.10"
CLIENT_IP = "198.51.100.2"
"""The client's address; the host's end of its link is 198.51.100.1."""


async def test_a_floating_ip_carries_connections_both_ways_and_nothing_else(
    driver: LibvirtDriver, host: libvirt.virConnect, namespaces: list[Namespace]
) -> None:
    network = network_spec("10.47.0.0/24")
    await driver.create_network(network)
    port = PortSpec(
        id=new_id(), network_id=network.id, mac="fa:16:3e:47:00:10", fixed_ips=(FIXED_IP,)
    )
    await driver.create_port(port)
    bridge = host.networkLookupByName(driver.options.network_name(network.id)).bridgeName()

    guest, _link = plugged_into(namespaces, "g", bridge, f"{FIXED_IP}/24", port.mac)
    guest.run("ip", "route", "add", "default", "via", "10.47.0.1")

    client, client_link = new_namespace(namespaces, "c")
    ip("address", "add", "198.51.100.1/30", "dev", client_link)
    ip("link", "set", client_link, "up")
    client.run("ip", "address", "add", f"{CLIENT_IP}/30", "dev", "eth0")
    client.run("ip", "link", "set", "eth0", "up")
    client.run("ip", "route", "add", "default", "via", "198.51.100.1")

    floating = FloatingIpSpec(
        id=new_id(), ip=FLOATING_IP, network_id=new_id(), port_id=port.id, fixed_ip=FIXED_IP
    )
    await driver.associate_floating_ip(floating)

    # In through the floating IP: the guest sees the client's own address.
    server = serve_once(guest, FIXED_IP)
    assert ask(client, FLOATING_IP) == CLIENT_IP
    server.wait()
    # From the host itself as well (the guest sees one of the host's addresses).
    server = serve_once(guest, FIXED_IP)
    heard = ask(None, FLOATING_IP)
    server.wait()
    assert ipaddress.ip_address(heard).version == 4
    # Out from the guest: the client sees the floating IP.
    server = serve_once(client, CLIENT_IP)
    assert ask(guest, CLIENT_IP) == FLOATING_IP
    server.wait()
    # The network stays isolated: its fixed address is not reachable from outside.
    server = serve_once(guest, FIXED_IP)
    try:
        assert ask(client, FIXED_IP).startswith("error")

        await driver.disassociate_floating_ip(floating.id)

        assert ask(client, FLOATING_IP).startswith("error")
        assert ask(guest, CLIENT_IP).startswith("error")
    finally:
        server.kill()
        server.wait()

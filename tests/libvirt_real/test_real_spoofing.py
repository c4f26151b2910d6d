"""On the real host a guest cannot pass for another: frames from another MAC than its
interface's are dropped, and so are its ARP answers for another address than its port's.

A namespace stands in for the guest, its link bound to the port's filter as libvirt binds a
guest's tap device (``namespaces``), and a second one on the same network is its neighbour.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace

import libvirt

from cloudplane.drivers.libvirt.driver import LibvirtDriver
from cloudplane.drivers.network_contract import (
    Ethertype,
    RuleDirection,
    RuleProtocol,
    SecurityRuleSpec,
)
from tests.contract.test_network_driver_contract import network_spec, new_id, port_spec
from tests.libvirt_real.namespaces import (
    SERVICE_PORT,
    Namespace,
    ask,
    bind_filter,
    connects,
    plugged_into,
)

GUEST_IP, NEIGHBOUR_IP, CLAIMED_IP = "10.49.0.10", "10.49.0.11", "10.49.0.99"
OTHER_MAC = "fa:16:3e:49:00:99"


def forget_neighbours(namespace: Namespace) -> None:
    """Forget every neighbour's MAC, those told by ``know_each_other`` too."""
    namespace.run("ip", "neigh", "flush", "all", "nud", "all")


def know_each_other(namespace: Namespace, address: str, mac: str) -> None:
    """Tell ``namespace`` that ``address`` is at ``mac``, so it sends without asking ARP."""
    namespace.run(
        "ip", "neigh", "replace", address, "lladdr", mac, "dev", "eth0", "nud", "permanent"
    )


def mac_of(namespace: Namespace) -> str:
    """The MAC of ``namespace``'s ``eth0``."""
    shown = subprocess.run(
        ["ip", "-n", namespace.name, "-brief", "link", "show", "eth0"],
        capture_output=True,
        text=True,
        check=True,
    )
    return shown.stdout.split()[2]


def learned_mac(namespace: Namespace, address: str) -> bool:
    """Whether ``namespace`` has learned a MAC for ``address`` from an ARP answer."""
    shown = subprocess.run(
        ["ip", "-n", namespace.name, "neigh", "show", address],
        capture_output=True,
        text=True,
        check=True,
    )
    return "lladdr" in shown.stdout


async def test_a_guest_is_heard_only_from_its_own_mac_and_for_its_own_address(
    driver: LibvirtDriver,
    host: libvirt.virConnect,
    namespaces: list[Namespace],
    bindings: list[str],
) -> None:
    network = network_spec("10.49.0.0/24")
    await driver.create_network(network)
    from_the_network = SecurityRuleSpec(
        id=new_id(),
        direction=RuleDirection.INGRESS,
        protocol=RuleProtocol.TCP,
        ethertype=Ethertype.IPV4,
        port_min=SERVICE_PORT,
        port_max=SERVICE_PORT,
        remote_cidr=network.cidr,
    )
    port = replace(port_spec(network.id, GUEST_IP), security_rules=(from_the_network,))
    await driver.create_port(port)
    bridge = host.networkLookupByName(driver.options.network_name(network.id)).bridgeName()
    guest, guest_link = plugged_into(namespaces, "g", bridge, f"{GUEST_IP}/24", port.mac)
    bind_filter(host, guest_link, port.mac, driver.options.port_filter_name(port.id))
    bindings.append(guest_link)
    neighbour, _ = plugged_into(namespaces, "n", bridge, f"{NEIGHBOUR_IP}/24")

    assert connects(guest, GUEST_IP, neighbour)

    # Another MAC: the guest's answers do not get through, even with no ARP to stop (each
    # side told the other's MAC).
    guest.run("ip", "link", "set", "eth0", "address", OTHER_MAC)
    know_each_other(neighbour, GUEST_IP, OTHER_MAC)
    know_each_other(guest, NEIGHBOUR_IP, mac_of(neighbour))
    assert not connects(guest, GUEST_IP, neighbour)
    # Nor do its ARP answers.
    forget_neighbours(neighbour)
    assert not connects(guest, GUEST_IP, neighbour)
    assert not learned_mac(neighbour, GUEST_IP)

    guest.run("ip", "link", "set", "eth0", "address", port.mac)
    for namespace in (guest, neighbour):
        forget_neighbours(namespace)
    assert connects(guest, GUEST_IP, neighbour)

    # Another address: the guest answers ARP for it, and the answer is dropped.
    guest.run("ip", "address", "add", f"{CLAIMED_IP}/24", "dev", "eth0")
    assert ask(neighbour, CLAIMED_IP).startswith("error")
    assert not learned_mac(neighbour, CLAIMED_IP)

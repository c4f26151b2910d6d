"""Floating IPs on the real host carry traffic: connections to the floating IP reach the port's
address, and the port's own connections leave as the floating IP.

The tiny image has no network stack worth testing, so the port's address is held by a network
namespace plugged into the port's libvirt network, and a second namespace, routed through this
host, plays a client elsewhere. Both talk through the host's real firewall.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import libvirt
import pytest

from cloudplane.drivers.libvirt.driver import LibvirtDriver
from cloudplane.drivers.network_contract import (
    FloatingIpSpec,
    PortSpec,
)
from tests.contract.test_network_driver_contract import network_spec, new_id

FLOATING_IP = "203.0.113.47"
FIXED_IP = "10.47.0.10"
CLIENT_IP = "198.51.100.2"
"""The client's address; the host's end of its link is 198.51.100.1."""
SERVICE_PORT = 8047
_CONNECT_TIMEOUT_S = 3.0
_BRIDGE_PORT_FORWARDING = "3"
"""A bridge port's state in sysfs when it forwards (``BR_STATE_FORWARDING``)."""

# One connection: print the peer's address, once listening say so.
_SERVE_ONCE = """
import socket, sys
server = socket.create_server((sys.argv[1], int(sys.argv[2])))
print("listening", flush=True)
connection, (peer, _port) = server.accept()
connection.sendall(peer.encode())
connection.close()
"""
# Connect, print what the server said, or the error.
_ASK = """
import socket, sys
try:
    with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])) as s:
        print(s.recv(100).decode())
except OSError as exc:
    print(f"error {exc}")
"""


@dataclass(frozen=True)
class Namespace:
    name: str

    def run(self, *command: str) -> None:
        subprocess.run(["ip", "netns", "exec", self.name, *command], check=True)


def _ip(*arguments: str) -> None:
    subprocess.run(["ip", *arguments], check=True, capture_output=True)


@pytest.fixture
def namespaces() -> Iterator[list[Namespace]]:
    """Network namespaces made by the test, removed after it with what runs in them (a
    namespace lives while a process does, and its links with it)."""
    made: list[Namespace] = []
    yield made
    for namespace in made:
        pids = subprocess.run(
            ["ip", "netns", "pids", namespace.name], capture_output=True, text=True, check=False
        ).stdout.split()
        for pid in pids:
            os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "delete", namespace.name], check=False)
        subprocess.run(["ip", "link", "delete", namespace.name], capture_output=True, check=False)


def _namespace(made: list[Namespace], role: str) -> tuple[Namespace, str]:
    """A new namespace with a link to the host: the namespace's end is ``eth0``, the host's
    end (returned) is left for the caller to place."""
    tag = secrets.token_hex(3)
    namespace = Namespace(f"cp{role}{tag}")
    host_end = namespace.name
    _ip("netns", "add", namespace.name)
    made.append(namespace)
    _ip("link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", namespace.name)
    namespace.run("ip", "link", "set", "lo", "up")
    return namespace, host_end


def _wait_until_forwarding(bridge_port: str, within_s: float = 10.0) -> None:
    """Wait for a link just added to a bridge to forward (the bridge runs STP)."""
    state = Path(f"/sys/class/net/{bridge_port}/brport/state")
    deadline = time.monotonic() + within_s
    while state.read_text().strip() != _BRIDGE_PORT_FORWARDING:
        assert time.monotonic() < deadline, f"{bridge_port} does not forward"
        time.sleep(0.05)


def _ask(namespace: Namespace | None, address: str) -> str:
    """What a connection from ``namespace`` (None: the host itself) to ``address`` hears."""
    command = [sys.executable, "-c", _ASK, address, str(SERVICE_PORT), str(_CONNECT_TIMEOUT_S)]
    if namespace is not None:
        command = ["ip", "netns", "exec", namespace.name, *command]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def _serve_once(namespace: Namespace, address: str) -> subprocess.Popen[str]:
    """A server in ``namespace`` answering one connection with the peer's address."""
    command = [sys.executable, "-c", _SERVE_ONCE, address, str(SERVICE_PORT)]
    server = subprocess.Popen(
        ["ip", "netns", "exec", namespace.name, *command],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    assert server.stdout.readline().strip() == "listening"
    return server


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

    guest, guest_link = _namespace(namespaces, "g")
    _ip("link", "set", guest_link, "master", bridge, "up")
    guest.run("ip", "link", "set", "eth0", "address", port.mac)
    guest.run("ip", "address", "add", f"{FIXED_IP}/24", "dev", "eth0")
    guest.run("ip", "link", "set", "eth0", "up")
    guest.run("ip", "route", "add", "default", "via", "10.47.0.1")
    _wait_until_forwarding(guest_link)

    client, client_link = _namespace(namespaces, "c")
    _ip("address", "add", "198.51.100.1/30", "dev", client_link)
    _ip("link", "set", client_link, "up")
    client.run("ip", "address", "add", f"{CLIENT_IP}/30", "dev", "eth0")
    client.run("ip", "link", "set", "eth0", "up")
    client.run("ip", "route", "add", "default", "via", "198.51.100.1")

    floating = FloatingIpSpec(
        id=new_id(), ip=FLOATING_IP, network_id=new_id(), port_id=port.id, fixed_ip=FIXED_IP
    )
    await driver.associate_floating_ip(floating)

    # In through the floating IP: the guest sees the client's own address.
    server = _serve_once(guest, FIXED_IP)
    assert _ask(client, FLOATING_IP) == CLIENT_IP
    server.wait()
    # From the host itself as well (the guest sees one of the host's addresses).
    server = _serve_once(guest, FIXED_IP)
    heard = _ask(None, FLOATING_IP)
    server.wait()
    assert ipaddress.ip_address(heard).version == 4
    # Out from the guest: the client sees the floating IP.
    server = _serve_once(client, CLIENT_IP)
    assert _ask(guest, CLIENT_IP) == FLOATING_IP
    server.wait()
    # The network stays isolated: its fixed address is not reachable from outside.
    server = _serve_once(guest, FIXED_IP)
    try:
        assert _ask(client, FIXED_IP).startswith("error")

        await driver.disassociate_floating_ip(floating.id)

        assert _ask(client, FLOATING_IP).startswith("error")
        assert _ask(guest, CLIENT_IP).startswith("error")
    finally:
        server.kill()
        server.wait()

"""Network namespaces standing in for guests and clients in traffic tests on the real host.

The tiny image has no network stack worth testing, so a test gives a port's address to a
namespace plugged into the port's libvirt network, and talks to it from other namespaces (or
from the host), through the host's real firewall. ``serve_once`` answers one connection with the
peer's address, so a test sees both that a connection passed and from which address it came.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import libvirt

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


def remove(namespace: Namespace) -> None:
    """Remove ``namespace`` with what runs in it and its link to the host."""
    pids = subprocess.run(
        ["ip", "netns", "pids", namespace.name], capture_output=True, text=True, check=False
    ).stdout.split()
    for pid in pids:
        os.kill(int(pid), signal.SIGKILL)
    subprocess.run(["ip", "netns", "delete", namespace.name], check=False)
    subprocess.run(["ip", "link", "delete", namespace.name], capture_output=True, check=False)


def ip(*arguments: str) -> None:
    """Run ``ip`` on the host."""
    subprocess.run(["ip", *arguments], check=True, capture_output=True)


def new_namespace(made: list[Namespace], role: str) -> tuple[Namespace, str]:
    """A new namespace with a link to the host: the namespace's end is ``eth0``, the host's
    end (returned) is left for the caller to place."""
    namespace = Namespace(f"cp{role}{secrets.token_hex(3)}")
    host_end = namespace.name
    ip("netns", "add", namespace.name)
    made.append(namespace)
    ip("link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", namespace.name)
    namespace.run("ip", "link", "set", "lo", "up")
    return namespace, host_end


def plugged_into(
    made: list[Namespace], role: str, bridge: str, address: str, mac: str | None = None
) -> tuple[Namespace, str]:
    """A new namespace on ``bridge`` holding ``address`` (a CIDR), once the bridge forwards
    its traffic; returns it and the host's end of its link."""
    namespace, link = new_namespace(made, role)
    ip("link", "set", link, "master", bridge, "up")
    if mac is not None:
        namespace.run("ip", "link", "set", "eth0", "address", mac)
    namespace.run("ip", "address", "add", address, "dev", "eth0")
    namespace.run("ip", "link", "set", "eth0", "up")
    wait_until_forwarding(link)
    return namespace, link


def wait_until_forwarding(bridge_port: str, within_s: float = 10.0) -> None:
    """Wait for a link just added to a bridge to forward (the bridge runs STP)."""
    state = Path(f"/sys/class/net/{bridge_port}/brport/state")
    deadline = time.monotonic() + within_s
    while state.read_text().strip() != _BRIDGE_PORT_FORWARDING:
        assert time.monotonic() < deadline, f"{bridge_port} does not forward"
        time.sleep(0.05)


def ask(namespace: Namespace | None, address: str, port: int = SERVICE_PORT) -> str:
    """What a connection from ``namespace`` (None: the host itself) to ``address`` hears:
    the address the server saw it come from, or ``error …``."""
    command = [sys.executable, "-c", _ASK, address, str(port), str(_CONNECT_TIMEOUT_S)]
    if namespace is not None:
        command = ["ip", "netns", "exec", namespace.name, *command]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def serve_once(
    namespace: Namespace, address: str, port: int = SERVICE_PORT
) -> subprocess.Popen[str]:
    """A server in ``namespace`` answering one connection with the peer's address."""
    command = [sys.executable, "-c", _SERVE_ONCE, address, str(port)]
    server = subprocess.Popen(
        ["ip", "netns", "exec", namespace.name, *command],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    assert server.stdout.readline().strip() == "listening"
    return server


def connects(server: Namespace, address: str, client: Namespace, port: int = SERVICE_PORT) -> bool:
    """Whether a connection from ``client`` to ``address`` in ``server`` passes."""
    listening = serve_once(server, address, port)
    try:
        heard = ask(client, address, port)
    finally:
        listening.kill()
        listening.wait()
    return not heard.startswith("error")


def bind_filter(host: libvirt.virConnect, link: str, mac: str, filter_name: str) -> None:
    """Apply the nwfilter ``filter_name`` to the host's ``link`` as libvirt applies a port's
    filter to a guest's tap device (``$MAC`` is ``mac``); the ``bindings`` fixture removes it."""
    host.nwfilterBindingCreateXML(
        f"<filterbinding><owner><name>{link}</name><uuid>{uuid.uuid4()}</uuid></owner>"
        f"<portdev name='{link}'/><mac address='{mac}'/>"
        f"<filterref filter='{filter_name}'/></filterbinding>",
        0,
    )

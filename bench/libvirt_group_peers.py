"""A change of a security group's members on the libvirt driver, by the kind of rule that names
the group: for any protocol (the group's ipset), for tcp 5432 (a set of (member, port) pairs of
the rule's own) and for any tcp port (the members listed in each filter).

The libvirt driver on ``qemu:///system`` makes one network with ``PORTS`` ports. Each port's
filter is bound to a veth link of its own, as libvirt binds it to a running guest's tap device,
so a filter written again rebuilds that link's iptables rules as it would a guest's. Every port
has one rule whose peer is the group, of each kind in turn. For each, ``set_group_peers`` is
timed ``CHANGES`` times, alternately adding and removing one member of ``PORTS``; for listed
members, a push of unchanged members is timed too (what a reconcile round or a repeated refresh
costs). All that was made is removed at the end.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import libvirt
from bench.harness.report import (
    exit_cleanly_on_sigterm,
    p50_p99_ms,
    percentile,
    print_header,
)

from cloudplane.drivers.libvirt.driver import LibvirtDriver
from cloudplane.drivers.libvirt.options import LibvirtOptions
from cloudplane.drivers.network_contract import (
    AddressRange,
    Ethertype,
    GroupPeers,
    NetworkSpec,
    PortSpec,
    RuleDirection,
    RuleProtocol,
    SecurityRuleSpec,
)

PORTS = 20
CHANGES = 10
URI = "qemu:///system"


def _new_id() -> str:
    return str(uuid.uuid4())


def _ip(*arguments: str) -> None:
    subprocess.run(["ip", *arguments], check=True, capture_output=True)


KINDS = ("any protocol", "tcp 5432", "any tcp port")


class Timings:
    def __init__(self) -> None:
        self.changes: dict[str, list[float]] = {kind: [] for kind in KINDS}
        self.unchanged: list[float] = []


async def measure(driver: LibvirtDriver, host: libvirt.virConnect, links: list[str]) -> Timings:
    network = NetworkSpec(
        id=_new_id(),
        name="bench",
        cidr="10.97.0.0/24",
        gateway_ip="10.97.0.1",
        allocation_pools=(AddressRange("10.97.0.2", "10.97.0.254"),),
    )
    await driver.create_network(network)
    group_id = _new_id()
    ports = [
        PortSpec(
            id=_new_id(),
            network_id=network.id,
            mac=f"fa:16:3e:97:00:{index + 10:02x}",
            fixed_ips=(f"10.97.0.{index + 10}",),
        )
        for index in range(PORTS)
    ]
    members = tuple(port.fixed_ips[0] for port in ports)
    for port, link in zip(ports, links, strict=True):
        await driver.create_port(port)
        host.nwfilterBindingCreateXML(
            f"<filterbinding><owner><name>{link}</name><uuid>{uuid.uuid4()}</uuid></owner>"
            f"<portdev name='{link}'/><mac address='{port.mac}'/>"
            f"<filterref filter='{driver.options.port_filter_name(port.id)}'/></filterbinding>",
            0,
        )
    timings = Timings()
    any_rule = SecurityRuleSpec(
        id=_new_id(),
        direction=RuleDirection.INGRESS,
        protocol=RuleProtocol.ANY,
        ethertype=Ethertype.IPV4,
        remote_group_id=group_id,
    )
    rules = {
        "any protocol": any_rule,
        "tcp 5432": replace(
            any_rule, id=_new_id(), protocol=RuleProtocol.TCP, port_min=5432, port_max=5432
        ),
        "any tcp port": replace(any_rule, id=_new_id(), protocol=RuleProtocol.TCP),
    }
    for kind, rule in rules.items():
        for port in ports:
            await driver.apply_security_groups(port.id, [rule])
        await driver.set_group_peers(GroupPeers(group_id, members))
        for change in range(CHANGES):
            peers = members + (("10.97.0.250",) if change % 2 == 0 else ())
            started = time.perf_counter()
            await driver.set_group_peers(GroupPeers(group_id, peers))
            timings.changes[kind].append(time.perf_counter() - started)
    for _ in range(CHANGES):  # the last kind's rule is in every filter
        started = time.perf_counter()
        await driver.set_group_peers(GroupPeers(group_id, members))
        timings.unchanged.append(time.perf_counter() - started)
    for link in links:
        host.nwfilterBindingLookupByPortDev(link).delete()
    await driver.delete_group_peers(group_id)
    await driver.delete_network(network.id)
    return timings


async def run(options: LibvirtOptions, links: list[str]) -> Timings:
    driver = LibvirtDriver(options)
    await driver.open()
    host = libvirt.open(URI)
    try:
        return await measure(driver, host, links)
    finally:
        host.close()
        await driver.close()


def main() -> int:
    exit_cleanly_on_sigterm()
    prefix = f"cpbench-{secrets.token_hex(3)}-"
    print_header(
        f"a group's members change on libvirt, by kind of rule, {PORTS} bound filters",
        [
            f"driver: libvirt on {URI}, one network, {PORTS} ports, each filter bound to a link",
            f"set_group_peers timed {CHANGES} times per kind of rule, a member added or removed",
        ],
    )
    links = [f"cpb{secrets.token_hex(4)}" for _ in range(PORTS)]
    with tempfile.TemporaryDirectory() as state:
        options = LibvirtOptions(uri=URI, state_dir=Path(state), name_prefix=prefix)
        try:
            for link in links:
                _ip("link", "add", link, "type", "veth", "peer", "name", f"{link}p")
                _ip("link", "set", link, "up")
            timings = asyncio.run(run(options, links))
        finally:
            for link in links:
                subprocess.run(["ip", "link", "delete", link], capture_output=True, check=False)
    for kind, seconds in timings.changes.items():
        print(f"rule for {kind}: {p50_p99_ms(seconds)}")
    print(f"rule for any tcp port, members unchanged: {p50_p99_ms(timings.unchanged)}")
    base = percentile(timings.changes["any protocol"], 0.5)
    for kind in KINDS[1:]:
        ratio = percentile(timings.changes[kind], 0.5) / base
        print(f"{kind} vs any protocol at p50: {ratio:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

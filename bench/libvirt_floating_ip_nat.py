"""Mapping a floating IP on the libvirt driver, against the bare iptables commands it needs.

The libvirt driver on ``qemu:///system`` maps 20 floating IPs onto 20 ports of one network, one
after another, then unmaps them; each call is timed around the driver call (its lock, the read
of the ports and the current mappings, the rewrite of the chains, the jumps checked). Beside it,
in the same run, the same three kinds of rule are added and deleted with one bare ``iptables``
command each, in a scratch chain, for the same 20 addresses. Also timed: what a port's delete
now pays to find the mappings onto the port (one listing of the NAT rules per family). All that
was made is removed at the end.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness.report import (
    exit_cleanly_on_sigterm,
    p50_p99_ms,
    percentile,
    print_header,
)

from cloudplane.drivers.libvirt.driver import LibvirtDriver
from cloudplane.drivers.libvirt.floating_ip_nat import FloatingIpNat
from cloudplane.drivers.libvirt.options import LibvirtOptions
from cloudplane.drivers.network_contract import AddressRange, FloatingIpSpec, NetworkSpec, PortSpec

MAPPINGS = 20
URI = "qemu:///system"


def _new_id() -> str:
    return str(uuid.uuid4())


async def through_the_driver(driver: LibvirtDriver) -> tuple[list[float], list[float]]:
    """Seconds per associate and per disassociate, for ``MAPPINGS`` floating IPs."""
    await driver.open()
    try:
        return await _map_and_unmap(driver)
    finally:
        await driver.close()


async def _map_and_unmap(driver: LibvirtDriver) -> tuple[list[float], list[float]]:
    network = NetworkSpec(
        id=_new_id(),
        name="bench",
        cidr="10.98.0.0/24",
        gateway_ip="10.98.0.1",
        allocation_pools=(AddressRange("10.98.0.2", "10.98.0.254"),),
    )
    await driver.create_network(network)
    specs = []
    for index in range(MAPPINGS):
        port = PortSpec(
            id=_new_id(),
            network_id=network.id,
            mac=f"fa:16:3e:98:00:{index + 10:02x}",
            fixed_ips=(f"10.98.0.{index + 10}",),
        )
        await driver.create_port(port)
        specs.append(
            FloatingIpSpec(
                _new_id(), f"198.18.0.{index + 10}", _new_id(), port.id, port.fixed_ips[0]
            )
        )
    associate, disassociate = [], []
    for spec in specs:
        started = time.perf_counter()
        await driver.associate_floating_ip(spec)
        associate.append(time.perf_counter() - started)
    assert len(await driver.list_floating_ips()) == MAPPINGS
    for spec in specs:
        started = time.perf_counter()
        await driver.disassociate_floating_ip(spec.id)
        disassociate.append(time.perf_counter() - started)
    await driver.delete_network(network.id)
    return associate, disassociate


def bare_iptables(chain: str) -> tuple[list[float], list[float]]:
    """Seconds to add, and to delete, the DNAT, SNAT and forward rules of one mapping with one
    ``iptables`` command each (scratch chains, not jumped to)."""

    def iptables(*arguments: str) -> None:
        subprocess.run(["iptables", *arguments], check=True, capture_output=True)

    def rules(index: int) -> list[tuple[str, list[str]]]:
        floating, fixed = f"198.18.0.{index + 10}", f"10.98.0.{index + 10}"
        return [
            ("nat", ["-d", f"{floating}/32", "-j", "DNAT", "--to-destination", fixed]),
            ("nat", ["-s", f"{fixed}/32", "-j", "SNAT", "--to-source", floating]),
            ("filter", ["-d", f"{fixed}/32", "-j", "ACCEPT"]),
        ]

    def timed(command: str) -> list[float]:
        seconds = []
        for index in range(MAPPINGS):
            started = time.perf_counter()
            for table, rule in rules(index):
                iptables("-t", table, command, chain, *rule)
            seconds.append(time.perf_counter() - started)
        return seconds

    for table in ("nat", "filter"):
        iptables("-t", table, "-N", chain)
    try:
        return timed("-A"), timed("-D")
    finally:
        for table in ("nat", "filter"):
            subprocess.run(["iptables", "-t", table, "-F", chain], check=False)
            subprocess.run(["iptables", "-t", table, "-X", chain], check=False)


def listing_seconds(nat: FloatingIpNat) -> list[float]:
    """Seconds per listing of the mappings: what each port delete now pays."""
    seconds = []
    for _ in range(MAPPINGS):
        started = time.perf_counter()
        nat.mappings()
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> int:
    exit_cleanly_on_sigterm()
    prefix = f"cpbench-{secrets.token_hex(3)}-"
    print_header(
        f"floating IPs on libvirt: driver calls vs bare iptables commands, {MAPPINGS} mappings",
        [
            f"driver: libvirt on {URI}, one network, {MAPPINGS} ports, one call at a time",
            "bare: one iptables command per rule (DNAT, SNAT, forward accept), scratch chains",
        ],
    )
    nat = FloatingIpNat(prefix)
    with tempfile.TemporaryDirectory() as state:
        options = LibvirtOptions(uri=URI, state_dir=Path(state), name_prefix=prefix)
        try:
            associate, disassociate = asyncio.run(through_the_driver(LibvirtDriver(options)))
            listing = listing_seconds(nat)
        finally:
            nat.remove()
    add, delete = bare_iptables(f"CPBENCH-{secrets.token_hex(3).upper()}")
    print(f"driver associate: {p50_p99_ms(associate)}")
    print(f"driver disassociate: {p50_p99_ms(disassociate)}")
    print(f"bare iptables, add the 3 rules: {p50_p99_ms(add)}")
    print(f"bare iptables, delete the 3 rules: {p50_p99_ms(delete)}")
    for ours, bare, name in (
        (associate, add, "associate vs bare add"),
        (disassociate, delete, "disassociate vs bare delete"),
    ):
        print(f"{name} at p50: {percentile(ours, 0.5) / percentile(bare, 0.5):.1f}x")
    print(f"listing the mappings (added to each port delete): {p50_p99_ms(listing)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

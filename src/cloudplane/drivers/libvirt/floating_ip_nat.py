"""Floating IPs on a libvirt host, as this host's own NAT rules.

libvirt 9 writes its networks' firewall with iptables, so these are iptables rules too
(``ip6tables`` for IPv6): an nftables table of our own could not let through what libvirt's
chains reject, because a packet dropped in any table is dropped.

A floating IP F mapped onto fixed IP X is a rule or two in each of three chains of this
driver's own, named ``CP<tag>-FIP-…`` (the tag as for peer sets, so installations sharing a
host keep to their own):

- nat ``DNAT``, jumped to from PREROUTING and OUTPUT: connections to F, from elsewhere or from
  this host, go to X;
- nat ``SNAT``, jumped to from POSTROUTING ahead of libvirt's masquerading: X's traffic leaving
  through anything but a libvirt bridge leaves as F;
- filter ``FWD``, jumped to from FORWARD after libvirt's network-filter chains (a port's
  security groups still decide what reaches it) and before its networks' chains (which reject
  traffic into and out of an isolated network): connections made to F, both ways; X's own
  traffic out through anything but a libvirt bridge, and the replies. Other networks on the
  host stay as unreachable from X as before.

The DNAT rule's comment names the floating IP and its port: that is how mappings are listed.
A change writes the three chains of a family in one ``iptables-restore --noflush``, so a packet
meets the old mappings or the new ones, never half of them. Forwarding is turned on when a
mapping is made (as libvirt does for its NAT networks); for IPv6 that makes the kernel ignore
router advertisements on interfaces with ``accept_ra=1``. The kernel forgets these rules when the
host restarts; the reconciler maps the floating IPs again.

Blocking: each call runs a few ``iptables`` commands. Call from a worker thread, as root.
"""

from __future__ import annotations

import ipaddress
import itertools
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cloudplane.drivers.errors import DriverError
from cloudplane.drivers.libvirt.host_commands import (
    checked_uuid,
    command_usable,
    firewall_tag,
    run_host_command,
)
from cloudplane.drivers.network_contract import FloatingIpInfo

LIBVIRT_BRIDGES = "virbr+"
"""The bridges of libvirt's networks (cloudplane's networks leave the name to libvirt)."""
_LIBVIRT_NETWORK_CHAINS = "-j LIBVIRT_"
"""How a jump to one of libvirt's own network chains reads in ``iptables -S``."""
_COMMENT_WORDS = ("floating-ip", "port")


@dataclass(frozen=True, slots=True)
class _Family:
    tool: str
    restore: str
    forwarding: Path
    host_prefix: int


_FAMILIES = {
    4: _Family("iptables", "iptables-restore", Path("/proc/sys/net/ipv4/ip_forward"), 32),
    6: _Family(
        "ip6tables", "ip6tables-restore", Path("/proc/sys/net/ipv6/conf/all/forwarding"), 128
    ),
}


def iptables_usable() -> bool:
    """Whether this machine can change its NAT rules for both IP versions (needs root)."""
    return all(
        command_usable(family.tool, "-t", "nat", "-S", "POSTROUTING")
        and command_usable(family.restore, "--version")
        for family in _FAMILIES.values()
    )


@dataclass(frozen=True, slots=True)
class _Jump:
    table: str
    chain: str
    target: str
    first: bool
    """Whether it goes first in ``chain``; else after what is there (libvirt's network-filter
    chains). Either way it goes ahead of libvirt's network chains."""


class FloatingIpNat:
    """One driver's floating-IP mappings on this host (see the module docstring)."""

    def __init__(self, name_prefix: str) -> None:
        base = f"CP{firewall_tag(name_prefix).upper()}-FIP-"
        self.dnat_chain, self.snat_chain, self.forward_chain = (
            f"{base}DNAT",
            f"{base}SNAT",
            f"{base}FWD",
        )
        self._jumps = (
            _Jump("nat", "PREROUTING", self.dnat_chain, first=True),
            _Jump("nat", "OUTPUT", self.dnat_chain, first=True),
            _Jump("nat", "POSTROUTING", self.snat_chain, first=True),
            _Jump("filter", "FORWARD", self.forward_chain, first=False),
        )

    def mappings(self) -> list[FloatingIpInfo]:
        """Every mapping this driver holds on the host, IPv4 and IPv6."""
        found: list[FloatingIpInfo] = []
        for family in _FAMILIES.values():
            for line in run_host_command(family.tool, ["-t", "nat", "-S"]).splitlines():
                mapping = self.mapping_of_rule(line)
                if mapping is not None:
                    found.append(mapping)
        return found

    def replace(self, mappings: Iterable[FloatingIpInfo]) -> None:
        """Make ``mappings`` exactly the ones this driver holds on the host."""
        by_version: dict[int, list[FloatingIpInfo]] = {version: [] for version in _FAMILIES}
        for mapping in mappings:
            by_version[ipaddress.ip_address(mapping.ip).version].append(mapping)
        # Every family's rules are written out before the host is touched: a mapping that
        # cannot be written changes nothing.
        inputs = {
            version: self._restore_input(
                _FAMILIES[version], sorted(chosen, key=lambda m: ipaddress.ip_address(m.ip))
            )
            for version, chosen in by_version.items()
        }
        for version, family in _FAMILIES.items():
            if by_version[version]:
                _turn_on_forwarding(family)
            run_host_command(family.restore, ["--noflush"], stdin=inputs[version])
            listings = {table: _table_rules(family, table) for table in ("nat", "filter")}
            for jump in self._jumps:
                _ensure_jump(family, jump, listings[jump.table])

    def remove(self) -> None:
        """Take every mapping and chain of this driver off the host."""
        for family in _FAMILIES.values():
            for jump in self._jumps:
                jump_line = f"-A {jump.chain} -j {jump.target}"
                while jump_line in _table_rules(family, jump.table):
                    run_host_command(
                        family.tool, ["-t", jump.table, "-D", jump.chain, "-j", jump.target]
                    )
            for table, chain in (
                ("nat", self.dnat_chain),
                ("nat", self.snat_chain),
                ("filter", self.forward_chain),
            ):
                run_host_command(family.tool, ["-t", table, "-F", chain], tolerate=_NO_CHAIN)
                run_host_command(family.tool, ["-t", table, "-X", chain], tolerate=_NO_CHAIN)

    def _restore_input(self, family: _Family, mappings: Sequence[FloatingIpInfo]) -> str:
        suffix = f"/{family.host_prefix}"
        nat = [f":{self.dnat_chain} - [0:0]", f":{self.snat_chain} - [0:0]"]
        forward = [f":{self.forward_chain} - [0:0]"]
        for mapping in mappings:
            floating, fixed = mapping.ip + suffix, mapping.fixed_ip + suffix
            # Checked to be UUIDs: they go into the comment between double quotes.
            ids = checked_uuid(mapping.id), checked_uuid(mapping.port_id)
            comment = f'"floating-ip {ids[0]} port {ids[1]}"'
            nat += [
                f"-A {self.dnat_chain} -d {floating} -m comment --comment {comment} "
                f"-j DNAT --to-destination {mapping.fixed_ip}",
                f"-A {self.snat_chain} -s {fixed} ! -o {LIBVIRT_BRIDGES} "
                f"-j SNAT --to-source {mapping.ip}",
            ]
            forward += [
                f"-A {self.forward_chain} -m conntrack --ctstate DNAT --ctorigdst {floating} "
                "-j ACCEPT",
                f"-A {self.forward_chain} -s {fixed} ! -o {LIBVIRT_BRIDGES} -j ACCEPT",
                f"-A {self.forward_chain} -d {fixed} ! -i {LIBVIRT_BRIDGES} "
                "-m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            ]
        return "\n".join(["*nat", *nat, "COMMIT", "*filter", *forward, "COMMIT", ""])

    def mapping_of_rule(self, line: str) -> FloatingIpInfo | None:
        """The mapping a line of ``iptables -t nat -S`` holds; None for any other line."""
        words = shlex.split(line)
        if words[:2] != ["-A", self.dnat_chain]:
            return None
        options = dict(itertools.pairwise(words[2:]))
        comment = options.get("--comment", "").split()
        destination, fixed = options.get("-d"), options.get("--to-destination")
        if len(comment) != 4 or tuple(comment[::2]) != _COMMENT_WORDS or not destination:
            return None
        if not fixed:
            return None
        floating = str(ipaddress.ip_interface(destination).ip)
        return FloatingIpInfo(
            id=comment[1],
            ip=floating,
            port_id=comment[3],
            fixed_ip=fixed,
            backend_id=nat_backend_id(floating),
        )


def nat_backend_id(floating_ip: str) -> str:
    """How the backend names a mapping: by the address its rules translate."""
    return f"dnat:{floating_ip}"


_NO_CHAIN = ("No chain", "does not exist", "incompatible")
"""What ``iptables`` says of a chain that is not there (legacy and nf_tables wordings)."""


def _table_rules(family: _Family, table: str) -> list[str]:
    """The ``-A`` lines of every chain of ``table``, in order."""
    listing = run_host_command(family.tool, ["-t", table, "-S"])
    return [line for line in listing.splitlines() if line.startswith("-A ")]


def _ensure_jump(family: _Family, jump: _Jump, table_rules: list[str]) -> None:
    """Put the jump to ``jump.target`` where it belongs in ``jump.chain`` (whose table's rules
    are ``table_rules``): first (or after the rules there, for FORWARD) and, either way, ahead
    of libvirt's network chains, which libvirt may have put back at the top since."""
    jump_line = f"-A {jump.chain} -j {jump.target}"
    rules = [line for line in table_rules if line.startswith(f"-A {jump.chain} ")]
    libvirt_at = next(
        (index for index, line in enumerate(rules) if _LIBVIRT_NETWORK_CHAINS in line), None
    )
    if jump_line in rules:
        if libvirt_at is None or rules.index(jump_line) < libvirt_at:
            return
        run_host_command(family.tool, ["-t", jump.table, "-D", jump.chain, "-j", jump.target])
        rules.remove(jump_line)
        libvirt_at -= 1
    if libvirt_at is not None:
        position = libvirt_at + 1
    elif jump.first:
        position = 1
    else:
        position = len(rules) + 1
    run_host_command(
        family.tool,
        ["-t", jump.table, "-I", jump.chain, str(position), "-j", jump.target],
    )


def _turn_on_forwarding(family: _Family) -> None:
    try:
        if family.forwarding.read_text().strip() != "1":
            family.forwarding.write_text("1\n")
    except OSError as exc:
        raise DriverError(
            f"cannot turn on forwarding at {family.forwarding}: {exc}", code="unavailable"
        ) from exc

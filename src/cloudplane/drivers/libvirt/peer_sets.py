"""The peers of security groups on a libvirt host, as ipsets that the port filters match.

A rule whose peer is a security group cannot list the group's addresses in each port's filter:
every member's filter would then change whenever a member comes or goes. Instead each group has
two ipsets on the host, one per address family; a filter's rule names the set (libvirt's
``ipset`` attribute), and ``set_group_peers`` changes only the sets, which the kernel consults
for each new connection.

A set's name is ``<tag><family><group>`` (ipset allows 31 characters): a 3-character tag derived
from the driver's name prefix, so installations sharing a host keep to their own sets; ``4`` or
``6``; and the group's UUID in 26 characters of base32. A change fills a temporary set
(family ``x`` or ``y``) and swaps it in, so a packet never meets a half-filled set.

A filter naming a set that does not exist makes libvirt fail to start the guest, and a host
restart empties the kernel's sets: the driver creates a group's sets, empty, before a filter
names them and before it starts a guest; the next reconcile round fills them again.

A rule with a protocol and a port range has a set of its own (``filter_xml``), of (member,
protocol:port) pairs: ``<tag><p or q><rule>``, ``p`` for IPv4 and ``q`` for IPv6, filled and
swapped in the same way (temporary letters ``r`` and ``s``).

Blocking: each call runs the ``ipset`` command once, or once per set it reads or destroys.
Call from a worker thread, as root.
"""

from __future__ import annotations

import base64
import ipaddress
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence

from cloudplane.drivers.libvirt.host_commands import (
    checked_uuid,
    command_usable,
    firewall_tag,
    run_host_command,
)
from cloudplane.drivers.network_contract import GroupPeers

IPSET = "ipset"
_FAMILIES = {4: ("4", "x", "inet"), 6: ("6", "y", "inet6")}
"""Per IP version: the name's family letter for the set, for its temporary twin, and ipset's
family."""
_PAIR_LETTERS = {4: ("p", "r"), 6: ("q", "s")}
"""Per IP version: the letter of a rule's set of pairs, and of its temporary twin."""
_VERSION_OF_LETTER = {"4": 4, "6": 6}
_ID_CHARS = 26
_MOST_PAIRS = 1 << 20
"""A set of pairs holds one entry per member and port: room for a thousand members of a rule
of a thousand ports (ipset's default is 65,536)."""


def ipset_usable() -> bool:
    """Whether this machine can run ``ipset`` and its kernel keeps sets (needs root)."""
    return command_usable(IPSET, "list", "-n")


class PeerSets:
    """The ipsets of one driver's security groups (see the module docstring)."""

    def __init__(self, name_prefix: str) -> None:
        self._tag = firewall_tag(name_prefix)

    def set_name(self, group_id: str, version: int) -> str:
        """The set holding the group's peers of IP ``version``; a non-UUID id is a
        ``DriverError`` (cloudplane's ids are UUIDs)."""
        return self._name(group_id, _FAMILIES[version][0])

    def ensure(self, group_ids: Iterable[str]) -> None:
        """Create the groups' sets that are missing, empty; existing sets keep their peers."""
        lines = [
            self._create(self.set_name(group_id, version), version)
            for group_id in sorted(set(group_ids))
            for version in _FAMILIES
        ]
        if lines:
            _restore(lines)

    def replace(self, peers: GroupPeers) -> None:
        """Make the group's sets hold exactly ``peers.addresses``, each swapped in whole."""
        by_version: dict[int, list[str]] = defaultdict(list)
        for address in peers.addresses:
            parsed = ipaddress.ip_address(address)
            by_version[parsed.version].append(str(parsed))
        lines = []
        for version, (letter, temp_letter, _family) in _FAMILIES.items():
            name, temp = self._name(peers.id, letter), self._name(peers.id, temp_letter)
            lines += [self._create(name, version), self._create(temp, version), f"flush {temp}"]
            lines += [f"add {temp} {address}" for address in sorted(set(by_version[version]))]
            lines += [f"swap {temp} {name}", f"destroy {temp}"]
        _restore(lines)

    def pair_set_name(self, rule_id: str, version: int) -> str:
        """The set of (member, protocol:port) pairs of rule ``rule_id``, of IP ``version``; a
        non-UUID id is a ``DriverError``."""
        return self._name(rule_id, _PAIR_LETTERS[version][0])

    def replace_pairs(self, rule_id: str, version: int, entries: Sequence[str]) -> None:
        """Make the rule's set of pairs hold exactly ``entries`` (``pair_set_entries``),
        swapped in whole; creates it when missing."""
        letter, temp_letter = _PAIR_LETTERS[version]
        name, temp = self._name(rule_id, letter), self._name(rule_id, temp_letter)
        lines = [self._create_pairs(name, version), self._create_pairs(temp, version)]
        lines += [f"flush {temp}", *(f"add {temp} {entry} -exist" for entry in entries)]
        lines += [f"swap {temp} {name}", f"destroy {temp}"]
        _restore(lines)

    def remove_sets(self, names: Iterable[str]) -> None:
        """Destroy the sets ``names``, except those a running guest's firewall still uses
        (and those already gone)."""
        for name in sorted(names):
            _run(["destroy", name], tolerate=("does not exist", "in use"))

    def remove(self, group_id: str) -> None:
        """Destroy the group's sets. One that a filter still names (its rules are being
        changed) cannot go: it is emptied instead, and a later call removes it."""
        for version in _FAMILIES:
            name = self.set_name(group_id, version)
            destroyed = _run(["destroy", name], tolerate=("does not exist", "in use"))
            if "in use" in destroyed:
                _run(["flush", name])

    def listing(self) -> list[GroupPeers]:
        """Every group with a set of this driver's tag, and the addresses its sets hold."""
        found: dict[str, list[str]] = {}
        for line in _run(["save"]).splitlines():
            words = line.split()
            if len(words) < 2 or words[0] not in ("create", "add"):
                continue
            group_id = self.group_of(words[1])
            if group_id is None:
                continue
            addresses = found.setdefault(group_id, [])
            if words[0] == "add":
                addresses.append(words[2])
        return [GroupPeers(id=gid, addresses=tuple(sorted(a))) for gid, a in found.items()]

    def addresses(self, group_ids: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """The addresses the groups' sets hold, sorted (none for a group without sets)."""
        return {
            group_id: tuple(
                sorted(
                    address
                    for version in _FAMILIES
                    for address in _entries(self.set_name(group_id, version))
                )
            )
            for group_id in sorted(set(group_ids))
        }

    def _name(self, object_id: str, letter: str) -> str:
        raw = checked_uuid(object_id).bytes
        encoded = base64.b32encode(raw).decode().rstrip("=").lower()
        return f"{self._tag}{letter}{encoded}"

    def group_of(self, set_name: str) -> str | None:
        """The group of one of this driver's (non-temporary) sets; None for any other set."""
        tag, letter, encoded = set_name[:3], set_name[3:4], set_name[4:]
        if tag != self._tag or letter not in _VERSION_OF_LETTER or len(encoded) != _ID_CHARS:
            return None
        try:
            raw = base64.b32decode(encoded.upper() + "======")
        except ValueError:
            return None
        return str(uuid.UUID(bytes=raw)) if len(raw) == 16 else None

    @staticmethod
    def _create(name: str, version: int) -> str:
        return f"create {name} hash:ip family {_FAMILIES[version][2]} -exist"

    @staticmethod
    def _create_pairs(name: str, version: int) -> str:
        family = _FAMILIES[version][2]
        return f"create {name} hash:ip,port family {family} maxelem {_MOST_PAIRS} -exist"


def _entries(name: str) -> list[str]:
    """What set ``name`` holds; nothing when it does not exist."""
    saved = _run(["save", name], tolerate=("does not exist",))
    return [line.split()[2] for line in saved.splitlines() if line.startswith(f"add {name} ")]


def _restore(lines: Sequence[str]) -> None:
    """Run ``lines`` as one ``ipset restore`` (stops at the first failing line)."""
    _run(["restore"], stdin="\n".join(lines) + "\n")


def _run(arguments: list[str], *, stdin: str | None = None, tolerate: Sequence[str] = ()) -> str:
    return run_host_command(IPSET, arguments, stdin=stdin, tolerate=tolerate)

"""The peers of security groups on libvirt: which addresses the port filters' rules naming a group
admit (``filter_xml`` says how each kind of rule matches them).

Each group's members are its two ipsets (``peer_sets``), which rules for any protocol name. A
rule with a protocol and a port range has a set of (member, port) pairs of its own, filled from
the group's members; another rule with a protocol lists the members in its filter. A change of
members fills those sets of pairs again and writes those filters again (only those whose rules
change), then the group's sets. A set of pairs goes once no port filter names it. Without
``ipset`` (or on a remote host) the ``group_peers`` capability is off. Changes go through the
network half's one-at-a-time lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import libvirt

from cloudplane.drivers.capabilities import Capability
from cloudplane.drivers.errors import Unsupported
from cloudplane.drivers.libvirt.filter_xml import (
    groups_listed,
    groups_named,
    pair_set_entries,
    paired_rules,
    rule_version,
    same_rules,
)
from cloudplane.drivers.libvirt.parts import LibvirtParts
from cloudplane.drivers.libvirt.peer_sets import PeerSets
from cloudplane.drivers.network_contract import GroupPeers, NetworkDriver, SecurityRuleSpec


class LibvirtGroupPeers(LibvirtParts, NetworkDriver):
    """The group-peer calls of ``LibvirtDriver``'s ``NetworkDriver`` half, and the sets that
    port filters name."""

    async def set_group_peers(self, peers: GroupPeers) -> None:
        peer_sets = self._peer_sets
        if peer_sets is None:
            raise Unsupported(Capability.GROUP_PEERS)

        def set_peers(connection: libvirt.virConnect) -> None:
            # The group's sets last: should this stop half-way, they are as they were, and
            # the reconciler, which compares them, calls again.
            self._follow_members_blocking(connection, peer_sets, peers)
            peer_sets.replace(peers)

        await self._changing(f"setting the peers of security group {peers.id}", set_peers)

    async def delete_group_peers(self, group_id: str) -> None:
        peer_sets = self._peer_sets
        if peer_sets is None:
            return

        def delete_peers(connection: libvirt.virConnect) -> None:
            self._follow_members_blocking(connection, peer_sets, GroupPeers(group_id))
            peer_sets.remove(group_id)

        await self._changing(f"deleting the peers of security group {group_id}", delete_peers)

    async def list_group_peers(self) -> list[GroupPeers]:
        if self._peer_sets is None:
            return []
        return await asyncio.to_thread(self._peer_sets.listing)

    # --- blocking halves -----------------------------------------------------------------------

    def _follow_members_blocking(
        self, connection: libvirt.virConnect, peer_sets: PeerSets, peers: GroupPeers
    ) -> None:
        """Make the sets of pairs of the rules naming the group, and the port filters that
        list its members, hold ``peers.addresses``. A filter is written again only when its
        rules change, sparing its guest a rebuild of its firewall."""
        rules_of_ports = self._all_rules(connection)
        paired = {
            rule.id: rule
            for rules in rules_of_ports.values()
            for rule, group_id in paired_rules(rules)
            if group_id == peers.id
        }
        for rule in paired.values():
            peer_sets.replace_pairs(
                rule.id, rule_version(rule), pair_set_entries(rule, peers.addresses)
            )
        listing = {
            port_id: rules
            for port_id, rules in rules_of_ports.items()
            if peers.id in groups_listed(rules)
        }
        if not listing:
            return
        others = set().union(*(groups_listed(rules) for rules in listing.values()))
        others.discard(peers.id)
        members = {**peer_sets.addresses(others), peers.id: peers.addresses}
        port_addresses = {h.port_id: h.ip for _net, h in self._all_ports(connection)}
        for port_id, rules in listing.items():
            port_filter = self._find_filter(connection, port_id)
            if port_filter is None or port_id not in port_addresses:
                continue  # a port half deleted: its delete removes the filter
            rewritten = self._filter_xml(
                port_id, port_addresses[port_id], rules, port_filter.UUIDString(), members
            )
            if not same_rules(port_filter.XMLDesc(0), rewritten):
                connection.nwfilterDefineXML(rewritten)

    def _ready_sets(self, rules: Sequence[SecurityRuleSpec]) -> dict[str, tuple[str, ...]]:
        """Make the sets a filter of ``rules`` names exist, its sets of pairs filled from the
        groups' sets (libvirt applies a filter to running guests at once, and cannot start a
        guest whose filter names a missing set); returns the members of the groups it lists.
        """
        if self._peer_sets is None:
            return {}
        paired = paired_rules(rules)
        self._peer_sets.ensure(groups_named(rules))
        members = self._peer_sets.addresses(groups_listed(rules) | {g for _r, g in paired})
        for rule, group_id in paired:
            entries = pair_set_entries(rule, members[group_id])
            self._peer_sets.replace_pairs(rule.id, rule_version(rule), entries)
        return members

    def _retire_pair_sets(
        self,
        connection: libvirt.virConnect,
        former_rules: Sequence[SecurityRuleSpec],
        rules: Sequence[SecurityRuleSpec] = (),
    ) -> None:
        """Destroy the sets of pairs of ``former_rules`` (a filter's rules before it changed
        to ``rules``, or went) that no port filter names any more. Looks at the other filters
        only when the filter dropped a set."""
        peer_sets = self._peer_sets
        former = self._pair_set_names(former_rules) - self._pair_set_names(rules)
        if peer_sets is None or not former:
            return
        for rules_of_port in self._all_rules(connection).values():
            former -= self._pair_set_names(rules_of_port)
        peer_sets.remove_sets(former)

    def _pair_set_names(self, rules: Sequence[SecurityRuleSpec]) -> set[str]:
        if self._peer_sets is None:
            return set()
        return {
            self._peer_sets.pair_set_name(rule.id, rule_version(rule))
            for rule, _group_id in paired_rules(rules)
        }

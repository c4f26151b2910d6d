"""A port's security rules as a libvirt network filter (nwfilter), and back.

The server's interface refers to the filter, and libvirt turns it into ebtables, iptables and
ip6tables rules on the host for that interface, stateful as a security group is: a connection
that a rule admits is answered without a rule of its own. A filter holds, in this order:

0. at layer 2 (ebtables), a drop of the guest's frames from another MAC than its interface's
   (libvirt's ``$MAC``) and of its ARP naming another MAC or, on an IPv4 port, another
   address than the port's (an ARP probe, from 0.0.0.0, passes), so a guest can neither take
   over another's MAC nor draw its neighbours' traffic for another address;
1. what the port's address needs, whatever the rules say: DHCP for IPv4, DHCPv6 and neighbour
   discovery for IPv6 (Neutron admits them too: without them a guest has no address);
2. a drop of the guest's traffic of the port's IP version whose source is not the port's
   address, so a guest cannot pass for another (a group's member, say) by spoofing its
   address, as Neutron's port security does; the rules above still let the guest ask for its
   address. libvirt mirrors an outbound rule for the traffic towards the guest, so this also
   drops IP traffic to the guest that is not addressed to it (broadcast and multicast, DHCP's
   answers apart);
3. one accept rule per security rule. ``ingress`` is libvirt's ``in`` (towards the guest) with
   the peer as the source; ``egress`` is ``out`` with the peer as the destination; the port
   range is the destination port either way;
4. a drop of all other IPv4 and IPv6 traffic, both ways.

Each accept rule carries its security rule as JSON in its ``comment`` (libvirt allows 256
characters), so the rules read back are exactly those applied.

A peer given as a security group (``remote_group_id``), where the driver keeps groups' peers
(``peer_sets``), is matched by an ipset that libvirt's ``all`` (or ``all-ipv6``) rule names, or,
where no set can say it, by the members listed in the filter. libvirt 9 keeps ``ipset`` only on
its ``all`` and ``all-ipv6`` rules (it silently drops it from a ``tcp`` rule, which then admits
everyone), so:

- a rule for any protocol matches the group's set of addresses;
- a tcp or udp rule over at most ``MOST_PAIRED_PORTS`` ports matches a set of its own holding
  (member, protocol:port) pairs (``--match-set … src,dst``), so the protocol and the port are
  part of the set's entries;
- any other rule with a protocol (icmp, no port range, a wider one) lists the group's members
  one rule each, after the rule's own (which carries the comment and matches nobody); such a
  filter is written again when the group's members change (``groups_listed``).

Each change of members then changes only sets, except for the filters that list members.
Where the driver keeps no peers, a rule naming a group matches only the unspecified address,
which no peer has, so it admits nobody.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from cloudplane.drivers.network_contract import (
    Ethertype,
    RuleDirection,
    RuleProtocol,
    SecurityRuleSpec,
)

COMMENT_LIMIT = 256
"""libvirt's limit for a rule's comment; the longest rule (a 36-character id and group id and an
IPv6 CIDR) takes about 190."""

_ADDRESSING = {
    4: (
        # DHCP: the guest's request and the network's answer.
        ("out", "udp", {"srcportstart": "68", "dstportstart": "67"}),
        ("in", "udp", {"srcportstart": "67", "dstportstart": "68"}),
    ),
    6: (
        ("out", "udp-ipv6", {"srcportstart": "546", "dstportstart": "547"}),
        ("in", "udp-ipv6", {"srcportstart": "547", "dstportstart": "546"}),
        # Router solicitation and advertisement, neighbour solicitation and advertisement.
        *(("inout", "icmpv6", {"type": str(kind)}) for kind in (133, 134, 135, 136)),
    ),
}
"""What a port of each IP version always needs. Only its own version's rules are written: each
rule costs libvirt iptables commands at every start of the guest."""
_NOT_ITS_MAC, _ARP_PROBE, _NOT_ITS_ARP = "-700", "-650", "-600"
_FIRST, _NOT_ITS_ADDRESS, _RULES, _LAST = "-500", "-400", "0", "1000"
_ANY_OF_VERSION = {4: "all", 6: "all-ipv6"}

_ELEMENTS = {
    (RuleProtocol.TCP, Ethertype.IPV4): "tcp",
    (RuleProtocol.UDP, Ethertype.IPV4): "udp",
    (RuleProtocol.ICMP, Ethertype.IPV4): "icmp",
    (RuleProtocol.ANY, Ethertype.IPV4): "all",
    (RuleProtocol.TCP, Ethertype.IPV6): "tcp-ipv6",
    (RuleProtocol.UDP, Ethertype.IPV6): "udp-ipv6",
    (RuleProtocol.ICMP, Ethertype.IPV6): "icmpv6",
    (RuleProtocol.ANY, Ethertype.IPV6): "all-ipv6",
}
_NOBODY = {Ethertype.IPV4: "0.0.0.0/32", Ethertype.IPV6: "::/128"}
_VERSIONS = {Ethertype.IPV4: 4, Ethertype.IPV6: 6}


MOST_PAIRED_PORTS = 1024
"""The widest port range a rule's set of (member, port) pairs covers: the set holds one entry
per member and port."""


class SetNames(Protocol):
    """The names of the ipsets that filters match groups' members with (``PeerSets``)."""

    def set_name(self, group_id: str, version: int) -> str:
        """The set of the group's addresses of IP ``version``."""
        ...

    def pair_set_name(self, rule_id: str, version: int) -> str:
        """The set of (member, protocol:port) pairs of the rule, of IP ``version``."""
        ...


_Rule = tuple[str, str, str, dict[str, str]]
"""An accept rule's direction, priority, protocol element and its attributes."""


def port_filter_xml(
    name: str,
    rules: Sequence[SecurityRuleSpec],
    *,
    address: str,
    uuid: str | None = None,
    peer_sets: SetNames | None = None,
    members: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """The nwfilter ``name`` that admits exactly ``rules`` to a port whose address is
    ``address`` (see the module docstring); give the ``uuid`` of the filter it replaces, if
    any. Where groups' peers are kept, give ``peer_sets``, and ``members``: the addresses of
    each group in ``groups_listed(rules)`` (a group missing from it has none)."""
    version = ipaddress.ip_address(address).version
    root = ET.Element("filter", name=name, chain="root")
    if uuid is not None:
        ET.SubElement(root, "uuid").text = uuid
    _add_rule(root, "drop", "out", _NOT_ITS_MAC, "mac", {"match": "no", "srcmacaddr": "$MAC"})
    _add_rule(root, "drop", "out", _NOT_ITS_MAC, "arp", {"match": "no", "arpsrcmacaddr": "$MAC"})
    if version == 4:
        # "return" ends the guest's layer 2 chain: the probe skips the drop after it.
        _add_rule(root, "return", "out", _ARP_PROBE, "arp", {"arpsrcipaddr": "0.0.0.0"})
        _add_rule(
            root, "drop", "out", _NOT_ITS_ARP, "arp", {"match": "no", "arpsrcipaddr": address}
        )
    for direction, element, attributes in _ADDRESSING[version]:
        _add_rule(root, "accept", direction, _FIRST, element, attributes)
    _add_rule(
        root,
        "drop",
        "out",
        _NOT_ITS_ADDRESS,
        _ANY_OF_VERSION[version],
        {"match": "no", "srcipaddr": str(ipaddress.ip_address(address))},
    )
    for rule in rules:
        for accepting in _accepting(rule, peer_sets, members or {}):
            _add_rule(root, "accept", *accepting)
    for element in ("all", "all-ipv6"):
        _add_rule(root, "drop", "inout", _LAST, element, {})
    return ET.tostring(root, encoding="unicode")


def rules_of_filter(filter_xml: str) -> tuple[SecurityRuleSpec, ...]:
    """The security rules a filter made by ``port_filter_xml`` admits, in their order."""
    rules = []
    for rule in ET.fromstring(filter_xml).iterfind("rule"):
        for match in rule:
            comment = match.get("comment")
            if comment is not None:
                rules.append(_rule_from_comment(comment))
    return tuple(rules)


def drops_spoofed_traffic(filter_xml: str) -> bool:
    """Whether a filter drops the guest's traffic from other addresses and other MACs
    (filters written by older versions of cloudplane do not)."""
    drops = {
        rule.get("priority")
        for rule in ET.fromstring(filter_xml).iterfind("rule")
        if rule.get("action") == "drop"
    }
    return {_NOT_ITS_MAC, _NOT_ITS_ADDRESS} <= drops


class _GroupMatch(enum.Enum):
    """How a rule whose peer is a security group matches the group's members (see the module
    docstring), where groups' peers are kept."""

    GROUP_SET = "the group's set of addresses"
    PAIR_SET = "the rule's set of (member, port) pairs"
    LISTED = "the members, listed in the filter"


def _group_match(rule: SecurityRuleSpec) -> _GroupMatch | None:
    """How ``rule`` matches its group's members; None when its peer is not a group."""
    if rule.remote_group_id is None:
        return None
    if rule.protocol is RuleProtocol.ANY:
        return _GroupMatch.GROUP_SET
    if (
        rule.protocol in (RuleProtocol.TCP, RuleProtocol.UDP)
        and rule.port_min is not None
        and rule.port_max is not None
        and rule.port_max - rule.port_min < MOST_PAIRED_PORTS
    ):
        return _GroupMatch.PAIR_SET
    return _GroupMatch.LISTED


def _matching(
    rules: Sequence[SecurityRuleSpec], how: _GroupMatch
) -> list[tuple[SecurityRuleSpec, str]]:
    """The rules of ``rules`` that match their group's members ``how``, each with its group."""
    return [
        (rule, rule.remote_group_id)
        for rule in rules
        if rule.remote_group_id is not None and _group_match(rule) is how
    ]


def groups_named(rules: Sequence[SecurityRuleSpec]) -> set[str]:
    """The security groups whose ipsets a filter of ``rules`` names (where they are kept)."""
    return {group_id for _rule, group_id in _matching(rules, _GroupMatch.GROUP_SET)}


def paired_rules(rules: Sequence[SecurityRuleSpec]) -> list[tuple[SecurityRuleSpec, str]]:
    """The rules of ``rules`` that match a set of (member, port) pairs of their own (where
    groups' peers are kept), each with its group: ``pair_set_entries`` gives the entries."""
    return _matching(rules, _GroupMatch.PAIR_SET)


def groups_listed(rules: Sequence[SecurityRuleSpec]) -> set[str]:
    """The security groups whose members a filter of ``rules`` lists (where they are kept):
    those named by rules with a protocol that no set of pairs can match."""
    return {group_id for _rule, group_id in _matching(rules, _GroupMatch.LISTED)}


def rule_version(rule: SecurityRuleSpec) -> int:
    """The IP version of the traffic a rule admits."""
    return _VERSIONS[rule.ethertype]


def pair_set_entries(rule: SecurityRuleSpec, addresses: Sequence[str]) -> list[str]:
    """What a paired rule's set holds for its group's ``addresses``, as ``ipset add`` takes
    it (a range of ports stands for one entry per port); addresses of the other IP version
    are left out."""
    version = _VERSIONS[rule.ethertype]
    ports = f"{rule.protocol.value}:{rule.port_min}-{rule.port_max}"
    return [f"{address},{ports}" for address in _of_version(addresses, version)]


def _of_version(addresses: Sequence[str], version: int) -> list[str]:
    """``addresses`` of IP ``version``, written as ipaddress writes them, sorted, once each."""
    return sorted(
        {
            str(parsed)
            for address in addresses
            if (parsed := ipaddress.ip_address(address)).version == version
        }
    )


def same_rules(first_xml: str, second_xml: str) -> bool:
    """Whether two filters hold the same rules in the same order, whatever their UUIDs (a
    filter as libvirt returns it compares equal to the XML it was defined from)."""
    return _rules_of(first_xml) == _rules_of(second_xml)


def _rules_of(filter_xml: str) -> list[tuple[str, ...]]:
    return [
        (
            *(rule.get(key, "") for key in ("action", "direction", "priority")),
            match.tag,
            *sorted(f"{key}={value}" for key, value in match.attrib.items()),
        )
        for rule in ET.fromstring(filter_xml).iterfind("rule")
        for match in rule
    ]


def _accepting(
    rule: SecurityRuleSpec, peer_sets: SetNames | None, members: Mapping[str, Sequence[str]]
) -> list[_Rule]:
    """The accept rules for one security rule: the first carries it as its comment."""
    ingress = rule.direction is RuleDirection.INGRESS
    side = "src" if ingress else "dst"
    direction = "in" if ingress else "out"
    version = _VERSIONS[rule.ethertype]
    element = _ELEMENTS[(rule.protocol, rule.ethertype)]
    common: dict[str, str] = {}
    if rule.port_min is not None and rule.port_max is not None:
        common["dstportstart"] = str(rule.port_min)
        common["dstportend"] = str(rule.port_max)
    group_id, how = rule.remote_group_id, _group_match(rule)
    listed: list[_Rule] = []
    if group_id is None:
        peer = _peer_match(side, rule.remote_cidr)
    elif peer_sets is None:
        peer = _peer_match(side, _NOBODY[rule.ethertype])
    elif how is _GroupMatch.GROUP_SET:
        peer = {"ipset": peer_sets.set_name(group_id, version), "ipsetflags": side}
    elif how is _GroupMatch.PAIR_SET:
        # The set's entries hold the protocol and the port, so the rule is libvirt's "all".
        element, common = _ANY_OF_VERSION[version], {}
        peer = {"ipset": peer_sets.pair_set_name(rule.id, version), "ipsetflags": f"{side},dst"}
    else:
        peer = _peer_match(side, _NOBODY[rule.ethertype])
        listed = [
            (direction, _RULES, element, {**_peer_match(side, address), **common})
            for address in _of_version(members.get(group_id, ()), version)
        ]
    first = (direction, _RULES, element, {**peer, **common, "comment": _comment_of(rule)})
    return [first, *listed]


def _peer_match(side: str, peer: str | None) -> dict[str, str]:
    """The attributes matching ``peer`` (an address or a CIDR) on ``side``; any peer for
    None."""
    if peer is None:
        return {}
    network = ipaddress.ip_network(peer, strict=False)
    return {f"{side}ipaddr": str(network.network_address), f"{side}ipmask": str(network.prefixlen)}


def _add_rule(
    root: ET.Element,
    action: str,
    direction: str,
    priority: str,
    element: str,
    attributes: dict[str, str],
) -> None:
    rule = ET.SubElement(root, "rule", action=action, direction=direction, priority=priority)
    ET.SubElement(rule, element, attributes)


def _comment_of(rule: SecurityRuleSpec) -> str:
    fields: dict[str, Any] = {
        "id": rule.id,
        "dir": rule.direction.value,
        "proto": rule.protocol.value,
        "eth": rule.ethertype.value,
    }
    optional = {
        "min": rule.port_min,
        "max": rule.port_max,
        "cidr": rule.remote_cidr,
        "group": rule.remote_group_id,
    }
    fields.update({key: value for key, value in optional.items() if value is not None})
    return json.dumps(fields, separators=(",", ":"))


def _rule_from_comment(comment: str) -> SecurityRuleSpec:
    fields = json.loads(comment)
    return SecurityRuleSpec(
        id=fields["id"],
        direction=RuleDirection(fields["dir"]),
        protocol=RuleProtocol(fields["proto"]),
        ethertype=Ethertype(fields["eth"]),
        port_min=fields.get("min"),
        port_max=fields.get("max"),
        remote_cidr=fields.get("cidr"),
        remote_group_id=fields.get("group"),
    )

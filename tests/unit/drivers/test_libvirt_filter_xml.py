"""Security rules as a libvirt network filter: what the filter admits, and reading it back."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from typing import NamedTuple

from cloudplane.drivers.libvirt.filter_xml import (
    COMMENT_LIMIT,
    MOST_PAIRED_PORTS,
    drops_spoofed_traffic,
    groups_listed,
    groups_named,
    pair_set_entries,
    paired_rules,
    port_filter_xml,
    rules_of_filter,
    same_rules,
)
from cloudplane.drivers.network_contract import (
    Ethertype,
    RuleDirection,
    RuleProtocol,
    SecurityRuleSpec,
)

_LAYER_2 = ("mac", "arp")
"""libvirt's elements for ebtables rules; the others' are iptables and ip6tables rules."""
_V4, _V6 = "10.0.0.5", "2001:db8::5"
"""The port's address, where the filter is for an IPv4 or an IPv6 port."""


def _rule(**fields: object) -> SecurityRuleSpec:
    defaults: dict[str, object] = {
        "id": str(uuid.uuid4()),
        "direction": RuleDirection.INGRESS,
        "protocol": RuleProtocol.TCP,
        "ethertype": Ethertype.IPV4,
    }
    return SecurityRuleSpec(**{**defaults, **fields})  # type: ignore[arg-type]


class Match(NamedTuple):
    action: str
    direction: str
    priority: str
    element: str
    attributes: dict[str, str]


def _matches(filter_xml: str) -> list[Match]:
    """Each rule of the filter, in order."""
    return [
        Match(
            rule.get("action", ""),
            rule.get("direction", ""),
            rule.get("priority", ""),
            m.tag,
            m.attrib,
        )
        for rule in ET.fromstring(filter_xml).iterfind("rule")
        for m in rule
    ]


def _accepting(filter_xml: str) -> list[Match]:
    """The rules made from security rules (neither the fixed first ones nor the drops)."""
    return [m for m in _matches(filter_xml) if m.priority == "0"]


def test_ingress_admits_the_peer_as_source_and_egress_as_destination_to_a_port_range() -> None:
    ssh = _rule(port_min=22, port_max=22, remote_cidr="192.0.2.0/24")
    dns = _rule(
        direction=RuleDirection.EGRESS,
        protocol=RuleProtocol.UDP,
        ethertype=Ethertype.IPV6,
        port_min=53,
        port_max=53,
        remote_cidr="2001:db8::/32",
    )

    ssh_match, dns_match = _accepting(port_filter_xml("f", [ssh, dns], address=_V4))

    assert (ssh_match.action, ssh_match.direction, ssh_match.element) == ("accept", "in", "tcp")
    assert (dns_match.action, dns_match.direction, dns_match.element) == (
        "accept",
        "out",
        "udp-ipv6",
    )
    ssh_attributes, dns_attributes = ssh_match.attributes, dns_match.attributes
    assert (ssh_attributes["srcipaddr"], ssh_attributes["srcipmask"]) == ("192.0.2.0", "24")
    assert (ssh_attributes["dstportstart"], ssh_attributes["dstportend"]) == ("22", "22")
    assert (dns_attributes["dstipaddr"], dns_attributes["dstipmask"]) == ("2001:db8::", "32")
    assert "srcipaddr" not in dns_attributes


def test_what_the_address_needs_comes_first_and_all_else_is_dropped_last() -> None:
    matches = _matches(port_filter_xml("f", [_rule(protocol=RuleProtocol.ANY)], address=_V4))

    first = [m for m in matches if m.priority == "-500"]
    layer_3 = [m for m in matches if m.element not in _LAYER_2]
    assert layer_3[: len(first)] == first
    dhcp = {(m.action, m.direction, m.element, m.attributes["srcportstart"]) for m in first}
    assert dhcp == {("accept", "out", "udp", "68"), ("accept", "in", "udp", "67")}
    assert [(m.action, m.direction, m.priority, m.element) for m in matches[-2:]] == [
        ("drop", "inout", "1000", "all"),
        ("drop", "inout", "1000", "all-ipv6"),
    ]


def test_an_ipv6_port_gets_dhcpv6_and_neighbour_discovery_instead_of_dhcp() -> None:
    first = [m for m in _matches(port_filter_xml("f", [], address=_V6)) if m.priority == "-500"]

    dhcpv6 = {(m.direction, m.attributes["srcportstart"]) for m in first if m.element == "udp-ipv6"}
    assert dhcpv6 == {("out", "546"), ("in", "547")}
    discovery = sorted(m.attributes["type"] for m in first if m.element == "icmpv6")
    assert discovery == ["133", "134", "135", "136"]
    assert {m.direction for m in first if m.element == "icmpv6"} == {"inout"}
    assert not [m for m in first if m.element == "udp"]


def test_a_peer_given_as_a_group_matches_only_the_unspecified_address_without_peer_sets() -> None:
    by_group = _rule(remote_group_id=str(uuid.uuid4()), protocol=RuleProtocol.ANY)

    (accepting,) = _accepting(port_filter_xml("f", [by_group], address=_V4))

    assert (accepting.attributes["srcipaddr"], accepting.attributes["srcipmask"]) == (
        "0.0.0.0",
        "32",
    )


class _Sets:
    """Set names as ``PeerSets`` gives them, made recognisable."""

    def set_name(self, group_id: str, version: int) -> str:
        return f"group{version}-{group_id[:8]}"

    def pair_set_name(self, rule_id: str, version: int) -> str:
        return f"pairs{version}-{rule_id[:8]}"


_SETS = _Sets()


def test_a_group_peer_of_any_protocol_is_the_groups_ipset_of_the_rules_family() -> None:
    group_id = str(uuid.uuid4())
    members_in = _rule(protocol=RuleProtocol.ANY, remote_group_id=group_id)
    to_members_v6 = _rule(
        direction=RuleDirection.EGRESS,
        protocol=RuleProtocol.ANY,
        ethertype=Ethertype.IPV6,
        remote_group_id=group_id,
    )

    written = port_filter_xml("f", [members_in, to_members_v6], address=_V4, peer_sets=_SETS)
    inbound, outbound = _accepting(written)

    assert (inbound.element, inbound.direction) == ("all", "in")
    assert (inbound.attributes["ipset"], inbound.attributes["ipsetflags"]) == (
        _SETS.set_name(group_id, 4),
        "src",
    )
    assert (outbound.element, outbound.direction) == ("all-ipv6", "out")
    assert (outbound.attributes["ipset"], outbound.attributes["ipsetflags"]) == (
        _SETS.set_name(group_id, 6),
        "dst",
    )
    assert not {"srcipaddr", "dstipaddr"} & (inbound.attributes.keys() | outbound.attributes.keys())
    assert rules_of_filter(written) == (members_in, to_members_v6)
    assert groups_named([members_in, to_members_v6]) == {group_id}
    assert paired_rules([members_in, to_members_v6]) == []


def test_a_group_peer_of_a_port_range_is_a_set_of_member_and_port_pairs_of_the_rule() -> None:
    group_id = str(uuid.uuid4())
    ssh_from_members = _rule(port_min=22, port_max=22, remote_group_id=group_id)
    dns_to_members = _rule(
        direction=RuleDirection.EGRESS,
        protocol=RuleProtocol.UDP,
        ethertype=Ethertype.IPV6,
        port_min=53,
        port_max=53 + MOST_PAIRED_PORTS - 1,
        remote_group_id=group_id,
    )

    written = port_filter_xml("f", [ssh_from_members, dns_to_members], address=_V4, peer_sets=_SETS)
    inbound, outbound = _accepting(written)

    # libvirt's "all" rule, as libvirt keeps an ipset on no other; the pairs hold the ports.
    assert (inbound.element, inbound.direction) == ("all", "in")
    assert inbound.attributes["ipset"] == _SETS.pair_set_name(ssh_from_members.id, 4)
    assert inbound.attributes["ipsetflags"] == "src,dst"
    assert (outbound.element, outbound.direction) == ("all-ipv6", "out")
    assert outbound.attributes["ipset"] == _SETS.pair_set_name(dns_to_members.id, 6)
    assert outbound.attributes["ipsetflags"] == "dst,dst"
    for match in (inbound, outbound):
        assert not {"dstportstart", "srcipaddr", "dstipaddr"} & match.attributes.keys()
    assert rules_of_filter(written) == (ssh_from_members, dns_to_members)
    assert paired_rules([ssh_from_members, dns_to_members]) == [
        (ssh_from_members, group_id),
        (dns_to_members, group_id),
    ]
    assert groups_listed([ssh_from_members, dns_to_members]) == set()
    members = ("10.0.0.7", "2001:db8::7", "10.0.0.6")
    assert pair_set_entries(ssh_from_members, members) == [
        "10.0.0.6,tcp:22-22",
        "10.0.0.7,tcp:22-22",
    ]
    assert pair_set_entries(dns_to_members, members) == [f"2001:db8::7,udp:53-{52 + 1024}"]


def test_a_group_peer_no_set_of_pairs_can_say_lists_the_members_of_the_rules_family() -> None:
    group_id = str(uuid.uuid4())
    any_tcp = _rule(remote_group_id=group_id)
    too_wide = _rule(port_min=1, port_max=MOST_PAIRED_PORTS + 1, remote_group_id=group_id)
    pings = _rule(protocol=RuleProtocol.ICMP, remote_group_id=group_id)
    members = {group_id: ("10.0.0.7", "2001:db8::7", "10.0.0.6")}

    for rule in (any_tcp, too_wide, pings):
        written = port_filter_xml("f", [rule], address=_V4, peer_sets=_SETS, members=members)
        first, *listed = _accepting(written)

        # The rule's own match carries it and admits nobody.
        assert "ipset" not in first.attributes
        assert (first.attributes["srcipaddr"], first.attributes["srcipmask"]) == ("0.0.0.0", "32")
        assert [(m.attributes["srcipaddr"], m.attributes["srcipmask"]) for m in listed] == [
            ("10.0.0.6", "32"),
            ("10.0.0.7", "32"),
        ]
        for match in listed:
            assert (match.element, match.direction) == (first.element, "in")
            assert match.attributes.get("dstportstart") == first.attributes.get("dstportstart")
            assert "comment" not in match.attributes
        assert rules_of_filter(written) == (rule,)
    assert groups_listed([any_tcp, too_wide, pings]) == {group_id}
    assert paired_rules([any_tcp, too_wide, pings]) == []


def test_a_listed_group_peer_with_no_members_admits_nobody() -> None:
    to_members = _rule(
        direction=RuleDirection.EGRESS,
        protocol=RuleProtocol.UDP,
        remote_group_id=str(uuid.uuid4()),
    )

    (only,) = _accepting(port_filter_xml("f", [to_members], address=_V4, peer_sets=_SETS))

    assert (only.attributes["dstipaddr"], only.attributes["dstipmask"]) == ("0.0.0.0", "32")


def test_filters_compare_by_their_rules_not_their_uuids_or_attribute_order() -> None:
    group_id = str(uuid.uuid4())
    rules = [_rule(protocol=RuleProtocol.ICMP, remote_group_id=group_id)]
    before = port_filter_xml(
        "f", rules, address=_V4, peer_sets=_SETS, members={group_id: ("10.0.0.6",)}
    )
    reordered = ET.fromstring(before)
    ET.SubElement(reordered, "uuid").text = str(uuid.uuid4())
    for match in reordered.iter("icmp"):
        items = list(match.attrib.items())
        match.attrib.clear()
        match.attrib.update(reversed(items))
    after = port_filter_xml(
        "f", rules, address=_V4, peer_sets=_SETS, members={group_id: ("10.0.0.7",)}
    )

    assert same_rules(before, ET.tostring(reordered, encoding="unicode"))
    assert not same_rules(before, after)


def test_the_rules_read_back_are_exactly_those_written_even_the_longest() -> None:
    rules = [
        _rule(port_min=80, port_max=443, remote_cidr="0.0.0.0/0"),
        _rule(direction=RuleDirection.EGRESS, protocol=RuleProtocol.ANY),
        _rule(protocol=RuleProtocol.ICMP, ethertype=Ethertype.IPV6, remote_group_id="g" * 36),
        _rule(
            protocol=RuleProtocol.UDP,
            ethertype=Ethertype.IPV6,
            port_min=65535,
            port_max=65535,
            remote_cidr="ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
            remote_group_id=str(uuid.uuid4()),
        ),
    ]

    written = port_filter_xml("f", rules, address=_V4, uuid="6a30c7d5-1d88-4964-986f-db72d7ec6964")

    assert rules_of_filter(written) == tuple(rules)
    assert ET.fromstring(written).findtext("uuid") == "6a30c7d5-1d88-4964-986f-db72d7ec6964"
    longest = max(len(m.attributes["comment"]) for m in _accepting(written))
    assert longest <= COMMENT_LIMIT


def test_a_filter_without_rules_reads_back_empty_and_admits_only_addressing() -> None:
    written = port_filter_xml("f", [], address=_V4)

    assert rules_of_filter(written) == ()
    assert _accepting(written) == []
    beyond_addressing = [m for m in _matches(written) if m.priority != "-500"]
    # The one "return" lets an ARP probe skip the drop of ARP for other addresses.
    assert {m.action for m in beyond_addressing if m.element != "arp"} == {"drop"}


def test_the_guests_frames_from_another_mac_and_arp_for_another_address_are_dropped() -> None:
    not_its_mac = [
        Match("drop", "out", "-700", "mac", {"match": "no", "srcmacaddr": "$MAC"}),
        Match("drop", "out", "-700", "arp", {"match": "no", "arpsrcmacaddr": "$MAC"}),
    ]
    v4 = [m for m in _matches(port_filter_xml("f", [], address=_V4)) if m.element in _LAYER_2]
    v6 = [m for m in _matches(port_filter_xml("f", [], address=_V6)) if m.element in _LAYER_2]

    assert v4 == [
        *not_its_mac,
        Match("return", "out", "-650", "arp", {"arpsrcipaddr": "0.0.0.0"}),
        Match("drop", "out", "-600", "arp", {"match": "no", "arpsrcipaddr": _V4}),
    ]
    assert v6 == not_its_mac  # an IPv6 port has no IPv4 address to keep to


def test_a_filter_without_the_mac_drop_is_one_to_bring_up_to_date() -> None:
    root = ET.fromstring(port_filter_xml("f", [], address=_V4))
    for rule in root.findall("rule"):
        if rule.get("priority") == "-700":
            root.remove(rule)

    assert not drops_spoofed_traffic(ET.tostring(root, encoding="unicode"))


def test_the_guests_traffic_from_another_address_of_its_version_is_dropped() -> None:
    for address, element in ((_V4, "all"), (_V6, "all-ipv6")):
        written = port_filter_xml("f", [_rule(protocol=RuleProtocol.ANY)], address=address)
        matches = _matches(written)

        (spoofed,) = [m for m in matches if m.priority == "-400"]
        assert spoofed == Match(
            "drop", "out", "-400", element, {"match": "no", "srcipaddr": address}
        )
        priorities = [int(m.priority) for m in matches if m.element not in _LAYER_2]
        assert priorities == sorted(priorities)  # after what the address needs, before rules
        assert drops_spoofed_traffic(written)

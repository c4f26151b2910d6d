"""A port's rules as a Neutron security group of its own, and the peers of cloudplane's groups
as Neutron address groups (blocking; run via ``CloudCalls``).

cloudplane gives each port a list of rules; Neutron attaches rules to groups. Each port gets
one group, ``cloudplane-port-<port id>``, holding exactly its rules; each rule keeps
cloudplane's id in its description. A rule whose peer is a cloudplane security group points at
the Neutron address group ``cloudplane-group-<id>`` (``remote_address_group_id``), which holds
that group's peers as ``set_group_peers`` gives them, one ``/32`` or ``/128`` per address.

A cloud without address groups (Neutron before Wallaby) gets the older form: such a rule
points at an empty Neutron security group ``cloudplane-group-<id>`` and admits nobody (it
fails closed), and the driver offers no ``group_peers``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from openstack import exceptions as sdk_exceptions

from cloudplane.drivers.network_contract import (
    Ethertype,
    GroupPeers,
    RuleDirection,
    RuleProtocol,
    SecurityRuleSpec,
)
from cloudplane.drivers.openstack.names import (
    PREFIX,
    id_from_marker,
    marker,
    port_group_name,
    remote_group_name,
)


def ensure_port_group(conn: Any, port_id: str) -> Any:
    """The port's own group, made empty (Neutron's default egress rules removed) if missing."""
    name = port_group_name(port_id)
    found = next(iter(conn.network.security_groups(name=name)), None)
    if found is not None:
        return found
    group = conn.network.create_security_group(name=name, description=marker(port_id))
    for rule in group.security_group_rules or []:
        conn.network.delete_security_group_rule(rule["id"], ignore_missing=True)
    return conn.network.get_security_group(group.id)


def replace_rules(
    conn: Any, group: Any, rules: Sequence[SecurityRuleSpec], *, address_groups: bool
) -> None:
    """Make ``group`` hold exactly ``rules``: keep matching ones, drop others, add missing.
    ``address_groups``: whether the cloud has them (see the module docstring)."""
    remote_ids = sorted({r.remote_group_id for r in rules if r.remote_group_id})
    ensure = ensure_address_group if address_groups else ensure_remote_group
    peers = {group_id: ensure(conn, group_id) for group_id in remote_ids}
    wanted = {rule.id: neutron_rule(rule, peers, address_groups=address_groups) for rule in rules}
    for existing in group.security_group_rules or []:
        rule_id = id_from_marker(existing.get("description"))
        if rule_id in wanted and _same(existing, wanted[rule_id]):
            del wanted[rule_id]
        else:
            conn.network.delete_security_group_rule(existing["id"], ignore_missing=True)
    for body in wanted.values():
        conn.network.create_security_group_rule(security_group_id=group.id, **body)


def ensure_remote_group(conn: Any, group_id: str) -> str:
    """The empty Neutron security group standing for cloudplane group ``group_id`` (clouds
    without address groups)."""
    name = remote_group_name(group_id)
    found = next(iter(conn.network.security_groups(name=name)), None)
    if found is None:
        found = conn.network.create_security_group(name=name, description=marker(group_id))
    return str(found.id)


def ensure_address_group(conn: Any, group_id: str) -> str:
    """The Neutron address group holding cloudplane group ``group_id``'s peers; made empty
    when missing."""
    return str(_address_group(conn, group_id, create=True).id)


def neutron_rule(
    rule: SecurityRuleSpec, peers: Mapping[str, str], *, address_groups: bool
) -> dict[str, Any]:
    peer = peers[rule.remote_group_id] if rule.remote_group_id else None
    body = {
        "direction": rule.direction.value,
        "ethertype": rule.ethertype.value,
        "protocol": None if rule.protocol is RuleProtocol.ANY else rule.protocol.value,
        "port_range_min": rule.port_min,
        "port_range_max": rule.port_max,
        "remote_ip_prefix": rule.remote_cidr,
        "remote_group_id": None if address_groups else peer,
        "description": marker(rule.id),
    }
    if address_groups:
        # Only then: a Neutron without the extension refuses the unknown attribute.
        body["remote_address_group_id"] = peer
    return body


def peer_names(conn: Any, groups: Sequence[Any], *, address_groups: bool) -> dict[str, str]:
    """The names of Neutron security groups (``groups``) and address groups by id, for
    ``rules_of`` to read a rule's peer back."""
    names = {group.id: group.name for group in groups}
    if address_groups:
        names.update({found.id: found.name for found in conn.network.address_groups()})
    return names


def rules_of(group: Any, group_names: Mapping[str, str]) -> tuple[SecurityRuleSpec, ...]:
    """The cloudplane rules a port group holds; ``group_names`` (``peer_names``) maps Neutron
    ids to names, to read a peer group back."""
    rules = []
    for existing in group.security_group_rules or []:
        rule_id = id_from_marker(existing.get("description"))
        if rule_id is None:
            continue
        remote = existing.get("remote_address_group_id") or existing.get("remote_group_id")
        remote_name = group_names.get(remote, "") if remote else ""
        remote_group_id = remote_name.removeprefix(f"{PREFIX}group-") if remote_name else None
        rules.append(
            SecurityRuleSpec(
                id=rule_id,
                direction=RuleDirection(existing["direction"]),
                protocol=RuleProtocol(existing.get("protocol") or "any"),
                ethertype=Ethertype(existing["ethertype"]),
                port_min=existing.get("port_range_min"),
                port_max=existing.get("port_range_max"),
                remote_cidr=existing.get("remote_ip_prefix"),
                remote_group_id=remote_group_id,
            )
        )
    return tuple(rules)


def _same(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return all(existing.get(key) == value for key, value in wanted.items())


def set_peers(conn: Any, peers: GroupPeers) -> None:
    """Make the group's address group hold exactly ``peers.addresses``, adding and removing
    only the difference."""
    found = _address_group(conn, peers.id, create=True)
    held = {_as_cidr(address) for address in found.addresses or []}
    wanted = {_as_cidr(address) for address in peers.addresses}
    if wanted - held:
        conn.network.add_addresses_to_address_group(found, sorted(wanted - held))
    if held - wanted:
        conn.network.remove_addresses_from_address_group(found, sorted(held - wanted))


def delete_peers(conn: Any, group_id: str) -> None:
    """Delete the group's address group. One that a rule still names (its rules are being
    changed) cannot go: it is emptied instead, and a later call removes it."""
    found = _address_group(conn, group_id, create=False)
    if found is None:
        return
    try:
        conn.network.delete_address_group(found, ignore_missing=True)
    except sdk_exceptions.ConflictException:
        if found.addresses:
            conn.network.remove_addresses_from_address_group(found, list(found.addresses))


def list_peers(conn: Any) -> list[GroupPeers]:
    """Every cloudplane group's peers, from the address groups named for them."""
    listed = []
    for found in conn.network.address_groups():
        name = found.name or ""
        if name.startswith(f"{PREFIX}group-"):
            addresses = (str(ipaddress.ip_network(a).network_address) for a in found.addresses)
            listed.append(
                GroupPeers(id=name.removeprefix(f"{PREFIX}group-"), addresses=tuple(addresses))
            )
    return listed


def _address_group(conn: Any, group_id: str, *, create: bool) -> Any:
    name = remote_group_name(group_id)
    found = next(iter(conn.network.address_groups(name=name)), None)
    if found is None and create:
        found = conn.network.create_address_group(
            name=name, description=marker(group_id), addresses=[]
        )
    return found


def _as_cidr(address: str) -> str:
    """One address as Neutron keeps it in an address group: ``/32`` or ``/128``."""
    return str(ipaddress.ip_network(address, strict=False))

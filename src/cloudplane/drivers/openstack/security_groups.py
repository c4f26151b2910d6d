"""A port's rules as a Neutron security group of its own (blocking; run via ``CloudCalls``).

cloudplane gives each port a list of rules; Neutron attaches rules to groups. Each port gets
one group, ``cloudplane-port-<port id>``, holding exactly its rules; each rule keeps
cloudplane's id in its description. A rule whose peer is a cloudplane security group points
at a Neutron group ``cloudplane-group-<id>`` that stands for it; the driver is not told which
ports belong to a cloudplane group, so that Neutron group has no members and such a rule lets
nothing through (it fails closed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cloudplane.drivers.network_contract import (
    Ethertype,
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


def replace_rules(conn: Any, group: Any, rules: Sequence[SecurityRuleSpec]) -> None:
    """Make ``group`` hold exactly ``rules``: keep matching ones, drop others, add missing."""
    remote_ids = {r.remote_group_id for r in rules if r.remote_group_id}
    remote_groups = {gid: ensure_remote_group(conn, gid) for gid in sorted(remote_ids)}
    wanted = {rule.id: neutron_rule(rule, remote_groups) for rule in rules}
    for existing in group.security_group_rules or []:
        rule_id = id_from_marker(existing.get("description"))
        if rule_id in wanted and _same(existing, wanted[rule_id]):
            del wanted[rule_id]
        else:
            conn.network.delete_security_group_rule(existing["id"], ignore_missing=True)
    for body in wanted.values():
        conn.network.create_security_group_rule(security_group_id=group.id, **body)


def ensure_remote_group(conn: Any, group_id: str) -> str:
    name = remote_group_name(group_id)
    found = next(iter(conn.network.security_groups(name=name)), None)
    if found is None:
        found = conn.network.create_security_group(name=name, description=marker(group_id))
    return str(found.id)


def neutron_rule(rule: SecurityRuleSpec, remote_groups: Mapping[str, str]) -> dict[str, Any]:
    return {
        "direction": rule.direction.value,
        "ethertype": rule.ethertype.value,
        "protocol": None if rule.protocol is RuleProtocol.ANY else rule.protocol.value,
        "port_range_min": rule.port_min,
        "port_range_max": rule.port_max,
        "remote_ip_prefix": rule.remote_cidr,
        "remote_group_id": remote_groups[rule.remote_group_id] if rule.remote_group_id else None,
        "description": marker(rule.id),
    }


def rules_of(group: Any, group_names: Mapping[str, str]) -> tuple[SecurityRuleSpec, ...]:
    """The cloudplane rules a port group holds; ``group_names`` maps Neutron group ids to
    names (to read a peer group back)."""
    rules = []
    for existing in group.security_group_rules or []:
        rule_id = id_from_marker(existing.get("description"))
        if rule_id is None:
            continue
        remote = existing.get("remote_group_id")
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

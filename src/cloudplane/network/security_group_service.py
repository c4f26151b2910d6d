"""Security group rules: groups per project, validated rules, the lazy ``default`` group, and
pushing rule changes to the ports that use a group.

Groups are visible to their project only (admins: all). The ``default`` group is made on first
use (a project's first port, or its first look at its groups) and allows all egress and ingress
from members of the same group. Two requests making it at once meet at the unique constraint
on ``(project_id, name)``: the loser rolls back its SAVEPOINT and reads the winner's group.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.drivers.base import Capability
from cloudplane.drivers.network_contract import Ethertype, RuleDirection, RuleProtocol
from cloudplane.identity.principal import Principal
from cloudplane.kit.db import LIVE, new_id
from cloudplane.kit.errors import Conflict, NotFound, NotSupported, ValidationFailed
from cloudplane.network import repository
from cloudplane.network.models import SecurityGroup, SecurityGroupRule
from cloudplane.network.repository import RowLock
from cloudplane.network.security_group_schemas import SecurityGroupCreate, SecurityGroupRuleCreate
from cloudplane.operations.service import start_operation
from cloudplane.runtime import Runtime

RESOURCE = "security_group"
DEFAULT_GROUP = "default"
APPLY_RULES = "apply_rules"
PORTED_PROTOCOLS = frozenset({RuleProtocol.TCP, RuleProtocol.UDP})


def require_security_groups(runtime: Runtime) -> None:
    """501 ``not_supported`` when the driver cannot filter traffic."""
    if Capability.SECURITY_GROUPS not in runtime.driver.capabilities:
        raise NotSupported("the driver does not support security groups")


def _require_group_peers(runtime: Runtime, body: SecurityGroupRuleCreate) -> None:
    """501 ``not_supported`` for a rule naming a group as its peer that the backend would let
    nobody through: better refused than silently closed."""
    if body.remote_group_id is None:
        return
    capabilities = runtime.driver.capabilities
    if Capability.GROUP_PEERS not in capabilities:
        raise NotSupported(
            "the driver cannot admit a security group's members; give the peer as remote_cidr"
        )
    if (
        body.protocol is not RuleProtocol.ANY
        and Capability.GROUP_PEERS_WITH_PROTOCOL not in capabilities
    ):
        raise NotSupported(
            "the driver admits a security group's members only in rules for any protocol; "
            "use protocol any, or give the peer as remote_cidr"
        )


async def get_group(
    session: AsyncSession,
    principal: Principal,
    group_id: str,
    *,
    include_deleted: bool = False,
    lock: RowLock = RowLock.NONE,
) -> SecurityGroup:
    group = await repository.get_row(
        session,
        SecurityGroup,
        group_id,
        include_deleted=include_deleted and principal.is_admin,
        lock=lock,
    )
    if group is None or not (principal.is_admin or group.project_id == principal.project_id):
        raise NotFound(RESOURCE, group_id)
    return group


async def ensure_default_group(
    session: AsyncSession, project_id: str, *, lock: RowLock = RowLock.NONE
) -> SecurityGroup:
    """The project's ``default`` group, made now if it has none (safe under races).

    ``lock`` applies to a group that already exists; one made here is this transaction's own
    until it commits, so nobody else can delete it meanwhile either.
    """
    existing = await _live_group_named(session, project_id, DEFAULT_GROUP, lock=lock)
    if existing is not None:
        return existing
    group = SecurityGroup(
        id=new_id(),
        project_id=project_id,
        name=DEFAULT_GROUP,
        description="Allows all egress, and ingress from members of this group.",
    )
    try:
        async with session.begin_nested():
            session.add(group)
            await session.flush()
            session.add_all(_default_rules(group))
    except IntegrityError:
        existing = await _live_group_named(session, project_id, DEFAULT_GROUP, lock=lock)
        if existing is None:
            raise
        return existing
    return group


async def groups_for_port(
    session: AsyncSession,
    runtime: Runtime,
    project_id: str,
    group_ids: Sequence[str] | None,
) -> list[SecurityGroup]:
    """The groups a port of ``project_id`` gets, share-locked against deletion.

    None means the project's ``default`` group (none when the driver has no security groups);
    asking for groups the driver cannot apply is 501; an unknown group is 404.
    """
    if group_ids is None:
        if Capability.SECURITY_GROUPS not in runtime.driver.capabilities:
            return []
        return [await ensure_default_group(session, project_id, lock=RowLock.SHARE)]
    if group_ids:
        require_security_groups(runtime)
    return [
        await _locked_group_of_project(session, project_id, group_id)
        for group_id in dict.fromkeys(group_ids)
    ]


async def create_group(
    session: AsyncSession, principal: Principal, body: SecurityGroupCreate
) -> SecurityGroup:
    """A new group with no rules (all traffic denied); a taken name is 409."""
    group = SecurityGroup(
        id=new_id(), project_id=principal.project_id, name=body.name, description=body.description
    )
    session.add(group)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a security group named {body.name!r} already exists") from exc
    return group


async def delete_group(session: AsyncSession, principal: Principal, group_id: str) -> None:
    """Delete a group no live port uses and no other group's rule refers to (else 409)."""
    group = await get_group(session, principal, group_id, lock=RowLock.UPDATE)
    if group.name == DEFAULT_GROUP:
        raise Conflict("the default security group cannot be deleted", status="default")
    ports = await repository.live_ports_of_group(session, group.id)
    if ports:
        raise Conflict(
            f"security group {group.name} is used by {len(ports)} ports",
            status="in_use",
            ports=ports[:20],
        )
    referring = await session.scalar(
        select(func.count(SecurityGroupRule.id)).where(
            SecurityGroupRule.remote_group_id == group.id,
            SecurityGroupRule.security_group_id != group.id,
        )
    )
    if referring:
        raise Conflict(f"rules of other security groups refer to {group.name}", status="in_use")
    await repository.soft_delete(session, SecurityGroup, group.id)


async def add_rule(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    group_id: str,
    body: SecurityGroupRuleCreate,
) -> SecurityGroupRule:
    """Validate and add a rule, then push the group's rules to its ports."""
    group = await get_group(session, principal, group_id, lock=RowLock.UPDATE)
    ethertype, remote_cidr = _checked_peer(body)
    if body.remote_group_id is not None:
        await get_group(session, principal, body.remote_group_id)
    port_min, port_max = _checked_ports(body)
    _require_group_peers(runtime, body)
    rule = SecurityGroupRule(
        id=new_id(),
        security_group_id=group.id,
        project_id=group.project_id,
        direction=body.direction.value,
        protocol=body.protocol.value,
        ethertype=ethertype.value,
        port_min=port_min,
        port_max=port_max,
        remote_cidr=remote_cidr,
        remote_group_id=body.remote_group_id,
    )
    session.add(rule)
    await session.flush()
    await push_rules(session, runtime, principal, group.id)
    return rule


async def delete_rule(
    session: AsyncSession, runtime: Runtime, principal: Principal, rule_id: str
) -> None:
    rule = await session.get(SecurityGroupRule, rule_id)
    if rule is None:
        raise NotFound("security_group_rule", rule_id)
    try:
        group = await get_group(session, principal, rule.security_group_id, lock=RowLock.UPDATE)
    except NotFound:
        raise NotFound("security_group_rule", rule_id) from None
    await session.delete(rule)
    await session.flush()
    await push_rules(session, runtime, principal, group.id)


async def push_rules(
    session: AsyncSession, runtime: Runtime, principal: Principal | None, group_id: str
) -> None:
    """Start an operation that re-applies rules to every port using the group (if any)."""
    if await repository.live_ports_of_group(session, group_id):
        await start_operation(
            session,
            runtime,
            principal,
            action=APPLY_RULES,
            resource_type=RESOURCE,
            resource_id=group_id,
        )


def _checked_peer(body: SecurityGroupRuleCreate) -> tuple[Ethertype, str | None]:
    if body.remote_cidr is not None and body.remote_group_id is not None:
        raise ValidationFailed(
            "give remote_cidr or remote_group_id, not both", field="body.remote_group_id"
        )
    if body.remote_cidr is None:
        return body.ethertype or Ethertype.IPV4, None
    try:
        network = ipaddress.ip_network(body.remote_cidr, strict=False)
    except ValueError as exc:
        raise ValidationFailed(
            f"{body.remote_cidr!r} is not a valid CIDR", field="body.remote_cidr"
        ) from exc
    ethertype = Ethertype.IPV4 if network.version == 4 else Ethertype.IPV6
    if body.ethertype is not None and body.ethertype is not ethertype:
        raise ValidationFailed(
            f"remote_cidr {network} is {ethertype.value}, not {body.ethertype.value}",
            field="body.ethertype",
        )
    return ethertype, str(network)


def _checked_ports(body: SecurityGroupRuleCreate) -> tuple[int | None, int | None]:
    given = body.port_min is not None or body.port_max is not None
    if body.protocol not in PORTED_PROTOCOLS:
        if given:
            raise ValidationFailed(
                f"ports apply to tcp and udp only, not {body.protocol.value}",
                field="body.port_min",
            )
        return None, None
    if not given:
        return None, None
    port_min = body.port_min if body.port_min is not None else body.port_max
    port_max = body.port_max if body.port_max is not None else body.port_min
    assert port_min is not None
    assert port_max is not None
    if port_min > port_max:
        raise ValidationFailed(
            f"port_min {port_min} is greater than port_max {port_max}", field="body.port_max"
        )
    return port_min, port_max


def _default_rules(group: SecurityGroup) -> list[SecurityGroupRule]:
    rules = []
    for ethertype in Ethertype:
        rules.append(
            SecurityGroupRule(
                id=new_id(),
                security_group_id=group.id,
                project_id=group.project_id,
                direction=RuleDirection.EGRESS.value,
                protocol=RuleProtocol.ANY.value,
                ethertype=ethertype.value,
            )
        )
        rules.append(
            SecurityGroupRule(
                id=new_id(),
                security_group_id=group.id,
                project_id=group.project_id,
                direction=RuleDirection.INGRESS.value,
                protocol=RuleProtocol.ANY.value,
                ethertype=ethertype.value,
                remote_group_id=group.id,
            )
        )
    return rules


async def _live_group_named(
    session: AsyncSession, project_id: str, name: str, *, lock: RowLock = RowLock.NONE
) -> SecurityGroup | None:
    stmt = select(SecurityGroup).where(
        SecurityGroup.project_id == project_id,
        SecurityGroup.name == name,
        SecurityGroup.deleted_key == LIVE,
    )
    return await session.scalar(repository.with_lock(stmt, lock))


async def _locked_group_of_project(
    session: AsyncSession, project_id: str, group_id: str
) -> SecurityGroup:
    group = await repository.get_row(session, SecurityGroup, group_id, lock=RowLock.SHARE)
    if group is None or group.project_id != project_id:
        raise NotFound(RESOURCE, group_id)
    return group

"""Networking rows as API bodies; what a page needs from other tables comes in one query each."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.network import repository
from cloudplane.network.floating_ip_schemas import (
    FloatingIpAccepted,
    FloatingIpOut,
    FloatingIpStatus,
)
from cloudplane.network.models import FloatingIp, Network, Port, SecurityGroup, SecurityGroupRule
from cloudplane.network.schemas import (
    AllocationPool,
    NetworkOut,
    NetworkStatus,
    PortOut,
    PortStatus,
)
from cloudplane.network.security_group_schemas import SecurityGroupOut, SecurityGroupRuleOut


def network_out(network: Network) -> NetworkOut:
    status = NetworkStatus.DELETED if network.deleted_at is not None else network.status
    return NetworkOut(
        id=network.id,
        name=network.name,
        description=network.description,
        project_id=network.project_id,
        cidr=network.cidr,
        ip_version=network.ip_version,
        gateway_ip=network.gateway_ip,
        allocation_pools=[AllocationPool.model_validate(p) for p in network.allocation_pools],
        external=network.external,
        shared=network.shared,
        status=NetworkStatus(status),
        created_at=network.created_at,
        updated_at=network.updated_at,
        deleted_at=network.deleted_at,
    )


async def ports_out(session: AsyncSession, ports: Sequence[Port]) -> list[PortOut]:
    groups = await repository.security_group_ids_of_ports(session, [p.id for p in ports])
    return [port_out(port, groups.get(port.id, [])) for port in ports]


def port_out(port: Port, security_groups: list[str]) -> PortOut:
    status = PortStatus.DELETED if port.deleted_at is not None else port.status
    return PortOut(
        id=port.id,
        name=port.name,
        description=port.description,
        project_id=port.project_id,
        network_id=port.network_id,
        mac=port.mac,
        fixed_ips=list(port.fixed_ips),
        device_id=port.device_id,
        device_owner=port.device_owner,
        security_groups=security_groups,
        status=PortStatus(status),
        created_at=port.created_at,
        updated_at=port.updated_at,
        deleted_at=port.deleted_at,
    )


async def floating_ips_out(
    session: AsyncSession, floating_ips: Sequence[FloatingIp]
) -> list[FloatingIpOut]:
    devices = await repository.devices_of_ports(
        session, {f.port_id for f in floating_ips if f.port_id is not None}
    )
    return [floating_ip_out(f, devices.get(f.port_id) if f.port_id else None) for f in floating_ips]


def floating_ip_out(floating_ip: FloatingIp, server_id: str | None) -> FloatingIpOut:
    return FloatingIpOut(
        id=floating_ip.id,
        ip=floating_ip.ip,
        network_id=floating_ip.network_id,
        project_id=floating_ip.project_id,
        port_id=floating_ip.port_id,
        server_id=server_id,
        fixed_ip=floating_ip.fixed_ip,
        status=FloatingIpStatus(floating_ip.status),
        task_state=floating_ip.task_state,
        description=floating_ip.description,
        created_at=floating_ip.created_at,
        updated_at=floating_ip.updated_at,
        deleted_at=floating_ip.deleted_at,
    )


async def floating_ip_accepted(
    session: AsyncSession, floating_ip: FloatingIp, operation_id: str
) -> FloatingIpAccepted:
    (out,) = await floating_ips_out(session, [floating_ip])
    return FloatingIpAccepted(**out.model_dump(), operation_id=operation_id)


async def security_groups_out(
    session: AsyncSession, groups: Sequence[SecurityGroup]
) -> list[SecurityGroupOut]:
    rules = await repository.rules_of_groups(session, [g.id for g in groups])
    return [security_group_out(group, rules.get(group.id, [])) for group in groups]


def security_group_out(
    group: SecurityGroup, rules: Sequence[SecurityGroupRule]
) -> SecurityGroupOut:
    return SecurityGroupOut(
        id=group.id,
        name=group.name,
        description=group.description,
        project_id=group.project_id,
        rules=[rule_out(rule) for rule in rules],
        created_at=group.created_at,
        updated_at=group.updated_at,
        deleted_at=group.deleted_at,
    )


def rule_out(rule: SecurityGroupRule) -> SecurityGroupRuleOut:
    spec = repository.rule_spec(rule)
    return SecurityGroupRuleOut(
        id=rule.id,
        security_group_id=rule.security_group_id,
        direction=spec.direction,
        protocol=spec.protocol,
        ethertype=spec.ethertype,
        port_min=rule.port_min,
        port_max=rule.port_max,
        remote_cidr=rule.remote_cidr,
        remote_group_id=rule.remote_group_id,
        created_at=rule.created_at,
    )

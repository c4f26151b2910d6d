"""Networking queries and compare-and-set updates. No rules live here; the services have them."""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy import Select, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.drivers.network_contract import (
    Ethertype,
    RuleDirection,
    RuleProtocol,
    SecurityRuleSpec,
)
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import LIVE
from cloudplane.network.models import (
    FloatingIp,
    Network,
    Port,
    PortSecurityGroup,
    SecurityGroup,
    SecurityGroupRule,
)

Row = TypeVar("Row", Network, Port, FloatingIp, SecurityGroup)


class RowLock(enum.Enum):
    """How a read locks the row until the transaction ends (SQLite has one writer anyway)."""

    NONE = "none"
    SHARE = "share"
    """Taken by a request about to use the row: others may use it too, nobody may delete it."""
    UPDATE = "update"
    """Taken before deciding to change or delete the row."""


async def get_row(
    session: AsyncSession,
    model: type[Row],
    row_id: str,
    *,
    include_deleted: bool = False,
    lock: RowLock = RowLock.NONE,
) -> Row | None:
    stmt = select(model).where(model.id == row_id)
    if not include_deleted:
        stmt = stmt.where(model.deleted_key == LIVE)
    return await session.scalar(with_lock(stmt, lock))


def with_lock(stmt: Select[Row], lock: RowLock) -> Select[Row]:
    """``stmt`` locking the rows it reads as ``lock`` says."""
    if lock is RowLock.SHARE:
        return stmt.with_for_update(read=True)
    if lock is RowLock.UPDATE:
        return stmt.with_for_update()
    return stmt


def scoped_query(model: type[Row], *, project_id: str | None, include_deleted: bool) -> Select[Row]:
    stmt = select(model)
    if project_id is not None:
        stmt = stmt.where(model.project_id == project_id)
    if not include_deleted:
        stmt = stmt.where(model.deleted_key == LIVE)
    return stmt


def networks_query(
    *, project_id: str | None, public_too: bool, include_deleted: bool
) -> Select[Network]:
    """Networks of ``project_id`` (all when None), plus shared and external ones on request."""
    stmt = select(Network)
    if project_id is not None:
        owned = Network.project_id == project_id
        stmt = stmt.where(
            or_(owned, Network.shared.is_(True), Network.external.is_(True))
            if public_too
            else owned
        )
    if not include_deleted:
        stmt = stmt.where(Network.deleted_key == LIVE)
    return stmt


async def network_usage(session: AsyncSession, project_id: str) -> Mapping[str, int]:
    """Live networks and floating IPs of a project, counted from the rows (a UsageCounter)."""
    networks = await session.scalar(
        select(func.count(Network.id)).where(
            Network.project_id == project_id, Network.deleted_key == LIVE
        )
    )
    floating_ips = await session.scalar(
        select(func.count(FloatingIp.id)).where(
            FloatingIp.project_id == project_id, FloatingIp.deleted_key == LIVE
        )
    )
    return {"networks": int(networks or 0), "floating_ips": int(floating_ips or 0)}


async def live_ports_on_network(session: AsyncSession, network_id: str) -> int:
    count = await session.scalar(
        select(func.count(Port.id)).where(Port.network_id == network_id, Port.deleted_key == LIVE)
    )
    return int(count or 0)


async def live_floating_ips_on_network(session: AsyncSession, network_id: str) -> int:
    count = await session.scalar(
        select(func.count(FloatingIp.id)).where(
            FloatingIp.network_id == network_id, FloatingIp.deleted_key == LIVE
        )
    )
    return int(count or 0)


async def usable_networks(session: AsyncSession, project_id: str) -> list[Network]:
    """Live, non-external networks a project may put ports on: its own and shared ones."""
    rows = await session.scalars(
        select(Network)
        .where(
            Network.deleted_key == LIVE,
            Network.external.is_(False),
            or_(Network.project_id == project_id, Network.shared.is_(True)),
        )
        .order_by(Network.created_at, Network.id)
    )
    return list(rows.all())


async def soft_delete(session: AsyncSession, model: type[Row], row_id: str, **values: Any) -> bool:
    """Mark a live row deleted (and set ``values``); False when it was not live any more."""
    now = utcnow()
    result = await session.execute(
        update(model)
        .where(model.id == row_id, model.deleted_key == LIVE)
        .values(deleted_at=now, deleted_key=row_id, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def compare_and_set(
    session: AsyncSession,
    model: type[Row],
    row_id: str,
    *,
    expect: Mapping[str, Any],
    values: Mapping[str, Any],
    live_only: bool = True,
) -> bool:
    """Update a row only if its columns still hold ``expect`` (None matches NULL)."""
    stmt = update(model).where(model.id == row_id)
    if live_only:
        stmt = stmt.where(model.deleted_key == LIVE)
    for name, wanted in expect.items():
        column = getattr(model, name)
        stmt = stmt.where(column.is_(None) if wanted is None else column == wanted)
    result = await session.execute(
        stmt.values(updated_at=utcnow(), **values).execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def security_group_ids_of_ports(
    session: AsyncSession, port_ids: Iterable[str]
) -> dict[str, list[str]]:
    ids = list(port_ids)
    found: dict[str, list[str]] = defaultdict(list)
    if not ids:
        return found
    rows = await session.execute(
        select(PortSecurityGroup.port_id, PortSecurityGroup.security_group_id)
        .where(PortSecurityGroup.port_id.in_(ids))
        .order_by(PortSecurityGroup.security_group_id)
    )
    for port_id, group_id in rows:
        found[port_id].append(group_id)
    return found


async def rules_of_groups(
    session: AsyncSession, group_ids: Iterable[str]
) -> dict[str, list[SecurityGroupRule]]:
    ids = list(group_ids)
    found: dict[str, list[SecurityGroupRule]] = defaultdict(list)
    if not ids:
        return found
    rows = await session.scalars(
        select(SecurityGroupRule)
        .where(SecurityGroupRule.security_group_id.in_(ids))
        .order_by(SecurityGroupRule.created_at, SecurityGroupRule.id)
    )
    for rule in rows:
        found[rule.security_group_id].append(rule)
    return found


async def rules_of_ports(
    session: AsyncSession, port_ids: Iterable[str]
) -> dict[str, tuple[SecurityRuleSpec, ...]]:
    """Every port's effective rules (the union of its groups' rules), in one query."""
    ids = list(port_ids)
    found: dict[str, list[SecurityRuleSpec]] = defaultdict(list)
    if ids:
        rows = await session.execute(
            select(PortSecurityGroup.port_id, SecurityGroupRule)
            .join(
                SecurityGroupRule,
                SecurityGroupRule.security_group_id == PortSecurityGroup.security_group_id,
            )
            .where(PortSecurityGroup.port_id.in_(ids))
            .order_by(SecurityGroupRule.created_at, SecurityGroupRule.id)
        )
        for port_id, rule in rows:
            found[port_id].append(rule_spec(rule))
    return {port_id: tuple(found.get(port_id, ())) for port_id in ids}


def rule_spec(rule: SecurityGroupRule) -> SecurityRuleSpec:
    return SecurityRuleSpec(
        id=rule.id,
        direction=RuleDirection(rule.direction),
        protocol=RuleProtocol(rule.protocol),
        ethertype=Ethertype(rule.ethertype),
        port_min=rule.port_min,
        port_max=rule.port_max,
        remote_cidr=rule.remote_cidr,
        remote_group_id=rule.remote_group_id,
    )


async def live_ports_of_group(session: AsyncSession, group_id: str) -> list[str]:
    rows = await session.scalars(
        select(Port.id)
        .join(PortSecurityGroup, PortSecurityGroup.port_id == Port.id)
        .where(PortSecurityGroup.security_group_id == group_id, Port.deleted_key == LIVE)
    )
    return list(rows.all())


async def devices_of_ports(session: AsyncSession, port_ids: Iterable[str]) -> dict[str, str | None]:
    ids = [port_id for port_id in port_ids]
    if not ids:
        return {}
    rows = await session.execute(select(Port.id, Port.device_id).where(Port.id.in_(ids)))
    return {port_id: device_id for port_id, device_id in rows}

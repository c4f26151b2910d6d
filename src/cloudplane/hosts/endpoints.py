"""``/api/v1/hosts`` (admin): the hypervisor hosts, their capacity, allocation and state."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.compute.models import Server
from cloudplane.hosts.models import Host
from cloudplane.hosts.schemas import HostOut, HostState
from cloudplane.identity.dependencies import AdminPrincipal
from cloudplane.kit.db import LIVE
from cloudplane.kit.deps import SessionDep
from cloudplane.kit.errors import BadRequest, Forbidden, NotFound, Unauthorized, error_responses
from cloudplane.kit.pagination import ListParamsDep, Page, paginate, timestamped_name_sorts
from cloudplane.kit.routing import PrefixedRouter

router = PrefixedRouter(prefix="/api/v1/hosts", tags=["compute"])


@router.get("", responses=error_responses(Unauthorized, Forbidden, BadRequest))
async def list_hosts(
    session: SessionDep, _admin: AdminPrincipal, params: ListParamsDep
) -> Page[HostOut]:
    """Hypervisor hosts with capacity, allocation and state."""
    rows, next_marker = await paginate(
        session,
        select(Host),
        id_column=Host.id,
        sort_columns=timestamped_name_sorts(Host, Host.name),
        params=params,
    )
    return Page(items=await _views(session, rows), next_marker=next_marker)


@router.get("/{host_id}", responses=error_responses(Unauthorized, Forbidden, NotFound))
async def show_host(host_id: str, session: SessionDep, _admin: AdminPrincipal) -> HostOut:
    """One hypervisor host."""
    host = await session.get(Host, host_id)
    if host is None:
        raise NotFound("host", host_id)
    return (await _views(session, [host]))[0]


async def _views(session: AsyncSession, hosts: Sequence[Host]) -> list[HostOut]:
    """Allocation is counted from the live servers on each host, in one query."""
    names = [host.name for host in hosts if host.name is not None]
    usage = {
        name: (count, vcpus, ram_mb)
        for name, count, vcpus, ram_mb in (
            await session.execute(
                select(
                    Server.host,
                    func.count(),
                    func.coalesce(func.sum(Server.vcpus), 0),
                    func.coalesce(func.sum(Server.ram_mb), 0),
                )
                .where(Server.host.in_(names), Server.deleted_key == LIVE)
                .group_by(Server.host)
            )
        ).all()
    }
    views = []
    for host in hosts:
        count, vcpus, ram_mb = usage.get(host.name or "", (0, 0, 0))
        views.append(
            HostOut(
                id=host.id,
                name=host.name,
                uri=host.uri,
                state=HostState(host.state),
                error=host.error,
                vcpus=host.vcpus,
                memory_mb=host.memory_mb,
                free_memory_mb=host.free_memory_mb,
                allocated_vcpus=int(vcpus),
                allocated_ram_mb=int(ram_mb),
                servers=int(count),
                last_seen_at=host.last_seen_at,
                created_at=host.created_at,
                updated_at=host.updated_at,
            )
        )
    return views

"""``/api/v1/ports``: list, show, create, update, delete."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import Query, Request, Response, status
from sqlalchemy import select

from cloudplane.audit.recorder import note_resource
from cloudplane.compute.service import get_server
from cloudplane.identity.dependencies import CurrentPrincipal, WriterPrincipal
from cloudplane.kit.deps import RuntimeDep, SessionDep
from cloudplane.kit.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    NotSupported,
    Unauthorized,
    error_responses,
)
from cloudplane.kit.idempotency import IdempotencyDep
from cloudplane.kit.pagination import (
    ListParamsDep,
    Page,
    paginate,
    starts_with,
    timestamped_name_sorts,
    where_equal,
)
from cloudplane.kit.routing import PrefixedRouter
from cloudplane.network import port_service, repository
from cloudplane.network.listing import (
    AllProjectsQuery,
    DeletedQuery,
    NameQuery,
    ProjectQuery,
    list_scope,
    with_deleted,
)
from cloudplane.network.models import IpAllocation, Port
from cloudplane.network.network_service import get_usable_network
from cloudplane.network.schemas import DeviceOwner, PortCreate, PortOut, PortStatus, PortUpdate
from cloudplane.network.views import port_out, ports_out

router = PrefixedRouter(prefix="/api/v1/ports", tags=["network"])

_WRITE_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Conflict, NotSupported)


@router.get("", responses=error_responses(Unauthorized, BadRequest))
async def list_ports(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    name: NameQuery = None,
    name_prefix: NameQuery = None,
    status_: Annotated[PortStatus | None, Query(alias="status")] = None,
    network_id: str | None = None,
    device_id: str | None = None,
    device_owner: str | None = None,
    mac: str | None = None,
    fixed_ip: Annotated[str | None, Query(max_length=45)] = None,
    project_id: ProjectQuery = None,
    all_projects: AllProjectsQuery = False,
    deleted: DeletedQuery = False,
) -> Page[PortOut]:
    """Ports of the caller's project (admins: any project, or all), newest first."""
    stmt = repository.scoped_query(
        Port,
        project_id=list_scope(principal, project_id, all_projects),
        include_deleted=with_deleted(principal, deleted),
    )
    stmt = where_equal(
        stmt,
        (Port.name, name),
        (Port.status, status_.value if status_ else None),
        (Port.network_id, network_id),
        (Port.device_id, device_id),
        (Port.device_owner, device_owner),
        (Port.mac, mac.lower() if mac else None),
    )
    if name_prefix:
        stmt = stmt.where(starts_with(Port.name, name_prefix))
    if fixed_ip is not None:
        stmt = stmt.where(
            Port.id.in_(select(IpAllocation.port_id).where(IpAllocation.ip == _canonical(fixed_ip)))
        )
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=Port.id,
        sort_columns=timestamped_name_sorts(Port, Port.name),
        params=params,
    )
    return Page(items=await ports_out(session, rows), next_marker=next_marker)


@router.post("", status_code=status.HTTP_201_CREATED, responses=_WRITE_ERRORS)
async def create_port(
    request: Request,
    response: Response,
    body: PortCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
    idempotency: IdempotencyDep,
) -> PortOut:
    """Create a port with an address from the network's pools, or the `fixed_ip` asked for."""
    network = await get_usable_network(session, principal, body.network_id)
    if body.device_id is not None:
        server = await get_server(session, principal, body.device_id)
        if server.project_id != principal.project_id:
            raise NotFound("server", body.device_id)
    port = await port_service.create_port(
        session,
        runtime,
        principal,
        network=network,
        fixed_ip=body.fixed_ip,
        name=body.name,
        description=body.description,
        device_id=body.device_id,
        device_owner=DeviceOwner.ATTACHED if body.device_id else None,
        security_group_ids=body.security_groups,
    )
    note_resource(request, port.id)
    (created,) = await ports_out(session, [port])
    response.headers["Location"] = f"{router.prefix}/{port.id}"
    await idempotency.remember(
        status.HTTP_201_CREATED, created, location=response.headers["Location"]
    )
    return created


@router.get("/{port_id}", responses=error_responses(Unauthorized, NotFound))
async def show_port(
    port_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    deleted: DeletedQuery = False,
) -> PortOut:
    """One port."""
    port = await port_service.get_port(session, principal, port_id, include_deleted=deleted)
    (shown,) = await ports_out(session, [port])
    return shown


@router.patch("/{port_id}", responses=_WRITE_ERRORS)
async def update_port(
    port_id: str,
    body: PortUpdate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
) -> PortOut:
    """Rename or describe a port, or replace its security groups."""
    port = await port_service.update_port(session, runtime, principal, port_id, body)
    groups = await repository.security_group_ids_of_ports(session, [port.id])
    return port_out(port, groups.get(port.id, []))


@router.delete("/{port_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_WRITE_ERRORS)
async def delete_port(
    port_id: str, session: SessionDep, runtime: RuntimeDep, principal: WriterPrincipal
) -> None:
    """Delete a port (not one a server made for itself); its floating IPs are disassociated."""
    await port_service.delete_port(session, runtime, principal, port_id)


def _canonical(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return text

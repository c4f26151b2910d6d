"""``/api/v1/floating-ips``: allocate, list, show, describe, associate, disassociate, release.

Every endpoint answers 501 ``not_supported`` when the driver cannot map floating IPs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Response, status
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
    QuotaExceeded,
    Unauthorized,
    error_responses,
)
from cloudplane.kit.idempotency import IdempotencyDep
from cloudplane.kit.pagination import ListParamsDep, Page, paginate, where_equal
from cloudplane.kit.routing import PrefixedRouter
from cloudplane.network import floating_ip_service as service
from cloudplane.network import repository
from cloudplane.network.floating_ip_schemas import (
    FloatingIpAccepted,
    FloatingIpAssociate,
    FloatingIpCreate,
    FloatingIpOut,
    FloatingIpStatus,
    FloatingIpUpdate,
)
from cloudplane.network.listing import (
    AllProjectsQuery,
    DeletedQuery,
    ProjectQuery,
    list_scope,
    with_deleted,
)
from cloudplane.network.models import FloatingIp, Port
from cloudplane.network.port_service import get_port
from cloudplane.network.views import floating_ip_accepted, floating_ips_out


def _require_floating_ips(runtime: RuntimeDep) -> None:
    service.require_floating_ips(runtime)


router = PrefixedRouter(
    prefix="/api/v1/floating-ips",
    tags=["network"],
    dependencies=[Depends(_require_floating_ips)],
)

_READ_ERRORS = error_responses(Unauthorized, NotFound, NotSupported)
_WRITE_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Conflict, NotSupported)


def _accepted(response: Response, accepted: FloatingIpAccepted) -> FloatingIpAccepted:
    response.headers["Location"] = f"/api/v1/operations/{accepted.operation_id}"
    return accepted


@router.get("", responses=error_responses(Unauthorized, BadRequest, NotSupported))
async def list_floating_ips(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    status_: Annotated[FloatingIpStatus | None, Query(alias="status")] = None,
    network_id: str | None = None,
    port_id: str | None = None,
    server_id: str | None = None,
    ip: Annotated[str | None, Query(max_length=45)] = None,
    project_id: ProjectQuery = None,
    all_projects: AllProjectsQuery = False,
    deleted: DeletedQuery = False,
) -> Page[FloatingIpOut]:
    """Floating IPs of the caller's project (admins: any project, or all), newest first."""
    stmt = repository.scoped_query(
        FloatingIp,
        project_id=list_scope(principal, project_id, all_projects),
        include_deleted=with_deleted(principal, deleted),
    )
    stmt = where_equal(
        stmt,
        (FloatingIp.status, status_.value if status_ else None),
        (FloatingIp.network_id, network_id),
        (FloatingIp.port_id, port_id),
        (FloatingIp.ip, ip),
    )
    if server_id is not None:
        stmt = stmt.where(
            FloatingIp.port_id.in_(select(Port.id).where(Port.device_id == server_id))
        )
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=FloatingIp.id,
        sort_columns={"created_at": FloatingIp.created_at, "updated_at": FloatingIp.updated_at},
        params=params,
    )
    return Page(items=await floating_ips_out(session, rows), next_marker=next_marker)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(
        Unauthorized, Forbidden, NotFound, Conflict, QuotaExceeded, NotSupported
    ),
)
async def allocate_floating_ip(
    request: Request,
    response: Response,
    body: FloatingIpCreate,
    session: SessionDep,
    principal: WriterPrincipal,
    idempotency: IdempotencyDep,
) -> FloatingIpOut:
    """Allocate a floating IP from an external network (default: the oldest one)."""
    floating_ip = await service.allocate_floating_ip(session, principal, body)
    note_resource(request, floating_ip.id)
    (created,) = await floating_ips_out(session, [floating_ip])
    response.headers["Location"] = f"{router.prefix}/{floating_ip.id}"
    await idempotency.remember(
        status.HTTP_201_CREATED, created, location=response.headers["Location"]
    )
    return created


@router.get("/{floating_ip_id}", responses=_READ_ERRORS)
async def show_floating_ip(
    floating_ip_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    deleted: DeletedQuery = False,
) -> FloatingIpOut:
    """One floating IP."""
    floating_ip = await service.get_floating_ip(
        session, principal, floating_ip_id, include_deleted=deleted
    )
    (shown,) = await floating_ips_out(session, [floating_ip])
    return shown


@router.patch("/{floating_ip_id}", responses=_WRITE_ERRORS)
async def update_floating_ip(
    floating_ip_id: str, body: FloatingIpUpdate, session: SessionDep, principal: WriterPrincipal
) -> FloatingIpOut:
    """Change a floating IP's description."""
    floating_ip = await service.update_floating_ip(session, principal, floating_ip_id, body)
    (updated,) = await floating_ips_out(session, [floating_ip])
    return updated


@router.delete("/{floating_ip_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_WRITE_ERRORS)
async def release_floating_ip(
    floating_ip_id: str, session: SessionDep, runtime: RuntimeDep, principal: WriterPrincipal
) -> None:
    """Release a floating IP, disassociating it first; it leaves the project's quota at once."""
    await service.release_floating_ip(session, runtime, principal, floating_ip_id)


@router.post(
    "/{floating_ip_id}/associate", status_code=status.HTTP_202_ACCEPTED, responses=_WRITE_ERRORS
)
async def associate_floating_ip(
    floating_ip_id: str,
    body: FloatingIpAssociate,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
) -> FloatingIpAccepted:
    """Map a floating IP onto a port, or onto a server's first port."""
    if body.server_id is not None:
        server = await get_server(session, principal, body.server_id)
        port = await service.first_port_of_server(session, server.id)
    else:
        assert body.port_id is not None
        port = await get_port(session, principal, body.port_id)
    floating_ip, operation = await service.associate_floating_ip(
        session, runtime, principal, floating_ip_id, port, body.fixed_ip
    )
    return _accepted(response, await floating_ip_accepted(session, floating_ip, operation.id))


@router.post(
    "/{floating_ip_id}/disassociate",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_WRITE_ERRORS,
)
async def disassociate_floating_ip(
    floating_ip_id: str,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
) -> FloatingIpAccepted:
    """Remove a floating IP's mapping; it stays allocated to the project."""
    floating_ip, operation = await service.disassociate_floating_ip(
        session, runtime, principal, floating_ip_id
    )
    return _accepted(response, await floating_ip_accepted(session, floating_ip, operation.id))

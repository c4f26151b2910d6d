"""``/api/v1/networks``: list, show, create, update, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response, status

from cloudplane.audit.recorder import note_resource
from cloudplane.identity.dependencies import CurrentPrincipal, WriterPrincipal
from cloudplane.kit.deps import RuntimeDep, SessionDep
from cloudplane.kit.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    QuotaExceeded,
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
from cloudplane.network import network_service, repository
from cloudplane.network.listing import (
    AllProjectsQuery,
    DeletedQuery,
    NameQuery,
    ProjectQuery,
    list_scope,
    with_deleted,
)
from cloudplane.network.models import Network
from cloudplane.network.schemas import NetworkCreate, NetworkOut, NetworkStatus, NetworkUpdate
from cloudplane.network.views import network_out

router = PrefixedRouter(prefix="/api/v1/networks", tags=["network"])

_WRITE_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Conflict)


@router.get("", responses=error_responses(Unauthorized, BadRequest))
async def list_networks(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    name: NameQuery = None,
    name_prefix: NameQuery = None,
    status_: Annotated[NetworkStatus | None, Query(alias="status")] = None,
    cidr: str | None = None,
    external: bool | None = None,
    shared: bool | None = None,
    project_id: ProjectQuery = None,
    all_projects: AllProjectsQuery = False,
    deleted: DeletedQuery = False,
) -> Page[NetworkOut]:
    """The project's networks plus every shared and external one (admins: any), newest first."""
    scope = list_scope(principal, project_id, all_projects)
    stmt = repository.networks_query(
        project_id=scope,
        public_too=scope == principal.project_id,
        include_deleted=with_deleted(principal, deleted),
    )
    stmt = where_equal(
        stmt,
        (Network.name, name),
        (Network.status, status_.value if status_ else None),
        (Network.cidr, cidr),
        (Network.external, external),
        (Network.shared, shared),
    )
    if name_prefix:
        stmt = stmt.where(starts_with(Network.name, name_prefix))
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=Network.id,
        sort_columns=timestamped_name_sorts(Network, Network.name),
        params=params,
    )
    return Page(items=[network_out(row) for row in rows], next_marker=next_marker)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Unauthorized, Forbidden, Conflict, QuotaExceeded),
)
async def create_network(
    request: Request,
    response: Response,
    body: NetworkCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
    idempotency: IdempotencyDep,
) -> NetworkOut:
    """Create a network (BUILD, then ACTIVE once the backend has it)."""
    network = await network_service.create_network(session, runtime, principal, body)
    note_resource(request, network.id)
    created = network_out(network)
    response.headers["Location"] = f"{router.prefix}/{network.id}"
    await idempotency.remember(
        status.HTTP_201_CREATED, created, location=response.headers["Location"]
    )
    return created


@router.get("/{network_id}", responses=error_responses(Unauthorized, NotFound))
async def show_network(
    network_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    deleted: DeletedQuery = False,
) -> NetworkOut:
    """One network."""
    network = await network_service.get_network(
        session, principal, network_id, include_deleted=deleted
    )
    return network_out(network)


@router.patch("/{network_id}", responses=_WRITE_ERRORS)
async def update_network(
    network_id: str, body: NetworkUpdate, session: SessionDep, principal: WriterPrincipal
) -> NetworkOut:
    """Rename or describe a network; admins may also change `external` and `shared`."""
    network = await network_service.update_network(session, principal, network_id, body)
    return network_out(network)


@router.delete("/{network_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_WRITE_ERRORS)
async def delete_network(
    network_id: str, session: SessionDep, runtime: RuntimeDep, principal: WriterPrincipal
) -> None:
    """Delete a network that has no ports and no floating IPs."""
    await network_service.delete_network(session, runtime, principal, network_id)

"""``/api/v1/flavors``: list, show, and (admins) create and delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response, status

from cloudplane.audit.recorder import note_resource
from cloudplane.compute import flavor_service
from cloudplane.compute.flavor_schemas import FlavorCreate, FlavorOut
from cloudplane.compute.models import Flavor
from cloudplane.identity.dependencies import AdminPrincipal, CurrentPrincipal
from cloudplane.kit.deps import SessionDep
from cloudplane.kit.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
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

router = PrefixedRouter(prefix="/api/v1/flavors", tags=["compute"])


@router.get("", responses=error_responses(Unauthorized, BadRequest))
async def list_flavors(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    name: Annotated[str | None, Query(max_length=64)] = None,
    name_prefix: Annotated[str | None, Query(max_length=64)] = None,
    is_public: Annotated[bool | None, Query(description="Admins only: filter by it.")] = None,
    deleted: Annotated[bool, Query(description="Admins only: include deleted flavors.")] = False,
) -> Page[FlavorOut]:
    """Flavors: public ones (admins: all), newest first."""
    stmt = flavor_service.listing_query(principal, include_deleted=deleted)
    stmt = where_equal(stmt, (Flavor.name, name))
    if name_prefix:
        stmt = stmt.where(starts_with(Flavor.name, name_prefix))
    if is_public is not None and principal.is_admin:
        stmt = stmt.where(Flavor.is_public.is_(is_public))
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=Flavor.id,
        sort_columns=timestamped_name_sorts(Flavor, Flavor.name),
        params=params,
    )
    return Page(items=[FlavorOut.model_validate(row) for row in rows], next_marker=next_marker)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Unauthorized, Forbidden, Conflict),
)
async def create_flavor(
    request: Request,
    response: Response,
    body: FlavorCreate,
    session: SessionDep,
    principal: AdminPrincipal,
    idempotency: IdempotencyDep,
) -> FlavorOut:
    """Create a flavor (admins only); names are unique among live flavors."""
    flavor = await flavor_service.create_flavor(session, body)
    note_resource(request, flavor.id)
    created = FlavorOut.model_validate(flavor)
    response.headers["Location"] = f"{router.prefix}/{flavor.id}"
    await idempotency.remember(
        status.HTTP_201_CREATED, created, location=response.headers["Location"]
    )
    return created


@router.get("/{flavor_id}", responses=error_responses(Unauthorized, NotFound))
async def show_flavor(
    flavor_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    deleted: Annotated[bool, Query(description="Admins only: allow a deleted flavor.")] = False,
) -> FlavorOut:
    """One flavor."""
    flavor = await flavor_service.get_flavor(session, principal, flavor_id, include_deleted=deleted)
    return FlavorOut.model_validate(flavor)


@router.delete(
    "/{flavor_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def delete_flavor(flavor_id: str, session: SessionDep, principal: AdminPrincipal) -> None:
    """Delete a flavor that no live server uses (admins only)."""
    await flavor_service.delete_flavor(session, principal, flavor_id)

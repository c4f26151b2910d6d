"""``/api/v1/volume-types``: everyone lists and shows; admins create, change and delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response, status

from cloudplane.audit.recorder import note_resource
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
)
from cloudplane.kit.routing import PrefixedRouter
from cloudplane.storage import volume_type_service
from cloudplane.storage.models import VolumeType
from cloudplane.storage.repository import volume_types_query
from cloudplane.storage.schemas import VolumeTypeCreate, VolumeTypeOut, VolumeTypeUpdate
from cloudplane.storage.views import volume_type_out

router = PrefixedRouter(prefix="/api/v1/volume-types", tags=["storage"])

_WRITE_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Conflict)


@router.get("", responses=error_responses(Unauthorized, BadRequest))
async def list_volume_types(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    name: Annotated[str | None, Query(max_length=64)] = None,
    name_prefix: Annotated[str | None, Query(max_length=64)] = None,
    is_default: bool | None = None,
    storage_pool_id: str | None = None,
    deleted: Annotated[bool, Query(description="Admins only: include deleted types.")] = False,
) -> Page[VolumeTypeOut]:
    """Volume types; the default one is used when a volume names none."""
    stmt = volume_types_query(include_deleted=deleted and principal.is_admin)
    if name is not None:
        stmt = stmt.where(VolumeType.name == name)
    if name_prefix:
        stmt = stmt.where(starts_with(VolumeType.name, name_prefix))
    if is_default is True:
        stmt = stmt.where(VolumeType.is_default.is_(True))
    elif is_default is False:
        stmt = stmt.where(VolumeType.is_default.is_(None))
    if storage_pool_id is not None:
        stmt = stmt.where(VolumeType.storage_pool_id == storage_pool_id)
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=VolumeType.id,
        sort_columns=timestamped_name_sorts(VolumeType, VolumeType.name),
        params=params,
    )
    return Page(items=[volume_type_out(row) for row in rows], next_marker=next_marker)


@router.post("", status_code=status.HTTP_201_CREATED, responses=_WRITE_ERRORS)
async def create_volume_type(
    request: Request,
    response: Response,
    body: VolumeTypeCreate,
    session: SessionDep,
    _admin: AdminPrincipal,
    idempotency: IdempotencyDep,
) -> VolumeTypeOut:
    """Create a volume type in a pool; the first one (or `is_default`) becomes the default."""
    volume_type = await volume_type_service.create_volume_type(session, body)
    note_resource(request, volume_type.id)
    out = volume_type_out(volume_type)
    response.headers["Location"] = f"/api/v1/volume-types/{volume_type.id}"
    await idempotency.remember(status.HTTP_201_CREATED, out, location=response.headers["Location"])
    return out


@router.get("/{type_id}", responses=error_responses(Unauthorized, NotFound))
async def show_volume_type(
    type_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    deleted: Annotated[bool, Query(description="Admins only: allow a deleted type.")] = False,
) -> VolumeTypeOut:
    """One volume type, by id or name."""
    volume_type = await volume_type_service.get_volume_type(
        session, type_id, include_deleted=deleted and principal.is_admin
    )
    return volume_type_out(volume_type)


@router.patch("/{type_id}", responses=_WRITE_ERRORS)
async def update_volume_type(
    type_id: str, body: VolumeTypeUpdate, session: SessionDep, _admin: AdminPrincipal
) -> VolumeTypeOut:
    """Rename a volume type, or make it the default (`is_default: true`)."""
    volume_type = await volume_type_service.update_volume_type(session, type_id, body)
    return volume_type_out(volume_type)


@router.delete("/{type_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_WRITE_ERRORS)
async def delete_volume_type(type_id: str, session: SessionDep, _admin: AdminPrincipal) -> None:
    """Delete a volume type that is not the default and that no volume uses."""
    await volume_type_service.delete_volume_type(session, type_id)

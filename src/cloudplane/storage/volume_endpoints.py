"""``/api/v1/volumes``: list, show, create, rename, extend, delete."""

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
    NotSupported,
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
from cloudplane.storage import repository, service
from cloudplane.storage.models import Volume
from cloudplane.storage.schemas import (
    VolumeAccepted,
    VolumeCreate,
    VolumeExtend,
    VolumeOut,
    VolumeUpdate,
)
from cloudplane.storage.states import VolumeStatus
from cloudplane.storage.views import volume_accepted, volume_view, volume_views

router = PrefixedRouter(prefix="/api/v1/volumes", tags=["storage"])

_ACTION_ERRORS = error_responses(
    Unauthorized, Forbidden, NotFound, Conflict, QuotaExceeded, NotSupported
)


def _operation_location(response: Response, operation_id: str) -> str:
    response.headers["Location"] = f"/api/v1/operations/{operation_id}"
    return response.headers["Location"]


@router.get("", responses=error_responses(Unauthorized, BadRequest))
async def list_volumes(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    name: Annotated[str | None, Query(max_length=255)] = None,
    name_prefix: Annotated[str | None, Query(max_length=255)] = None,
    status_: Annotated[VolumeStatus | None, Query(alias="status")] = None,
    bootable: bool | None = None,
    volume_type_id: str | None = None,
    storage_pool_id: str | None = None,
    image_id: str | None = None,
    snapshot_id: str | None = None,
    project_id: Annotated[str | None, Query(description="Admins only.")] = None,
    all_projects: Annotated[bool, Query(description="Admins only.")] = False,
    deleted: Annotated[bool, Query(description="Admins only: include deleted volumes.")] = False,
) -> Page[VolumeOut]:
    """Volumes of the caller's project (admins: any project, or all), newest first."""
    scope = service.listing_scope(principal, project_id=project_id, all_projects=all_projects)
    stmt = repository.volumes_query(
        project_id=scope, include_deleted=deleted and principal.is_admin
    )
    stmt = where_equal(
        stmt,
        (Volume.name, name),
        (Volume.status, status_.value if status_ else None),
        (Volume.bootable, bootable),
        (Volume.volume_type_id, volume_type_id),
        (Volume.storage_pool_id, storage_pool_id),
        (Volume.image_id, image_id),
        (Volume.snapshot_id, snapshot_id),
    )
    if name_prefix:
        stmt = stmt.where(starts_with(Volume.name, name_prefix))
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=Volume.id,
        sort_columns={**timestamped_name_sorts(Volume, Volume.name), "size_gb": Volume.size_gb},
        params=params,
    )
    return Page(items=await volume_views(session, rows), next_marker=next_marker)


@router.post("", status_code=status.HTTP_202_ACCEPTED, responses=_ACTION_ERRORS)
async def create_volume(
    request: Request,
    response: Response,
    body: VolumeCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
    idempotency: IdempotencyDep,
) -> VolumeAccepted:
    """Create a volume: blank, from an image (bootable) or from a snapshot (202, creating)."""
    volume, operation = await service.create_volume(session, runtime, principal, body)
    note_resource(request, volume.id)
    accepted = await volume_accepted(session, volume, operation.id)
    location = _operation_location(response, operation.id)
    await idempotency.remember(status.HTTP_202_ACCEPTED, accepted, location=location)
    return accepted


@router.get("/{volume_id}", responses=error_responses(Unauthorized, NotFound))
async def show_volume(
    volume_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    deleted: Annotated[bool, Query(description="Admins only: allow a deleted volume.")] = False,
) -> VolumeOut:
    """One volume, with its attachment."""
    volume = await service.get_volume_any_state(
        session, principal, volume_id, include_deleted=deleted
    )
    return await volume_view(session, volume)


@router.patch(
    "/{volume_id}", responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict)
)
async def update_volume(
    volume_id: str, body: VolumeUpdate, session: SessionDep, principal: WriterPrincipal
) -> VolumeOut:
    """Rename a volume or change its description."""
    volume = await service.update_volume(session, principal, volume_id, body)
    return await volume_view(session, volume)


@router.post("/{volume_id}/extend", status_code=status.HTTP_202_ACCEPTED, responses=_ACTION_ERRORS)
async def extend_volume(
    volume_id: str,
    body: VolumeExtend,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
) -> VolumeAccepted:
    """Grow a volume to `size_gb` (extending → back to its status); volumes never shrink."""
    volume, operation = await service.request_extend(session, runtime, principal, volume_id, body)
    _operation_location(response, operation.id)
    return await volume_accepted(session, volume, operation.id)


@router.delete("/{volume_id}", status_code=status.HTTP_202_ACCEPTED, responses=_ACTION_ERRORS)
async def delete_volume(
    volume_id: str,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
) -> VolumeAccepted:
    """Delete an unattached volume without snapshots (from `available` or `error`)."""
    volume, operation = await service.request_delete(session, runtime, principal, volume_id)
    _operation_location(response, operation.id)
    return await volume_accepted(session, volume, operation.id)

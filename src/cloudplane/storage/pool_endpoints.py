"""``/api/v1/storage-pools`` (admin): list, show, create, update, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response, status

from cloudplane.audit.recorder import note_resource
from cloudplane.identity.dependencies import AdminPrincipal
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
)
from cloudplane.kit.routing import PrefixedRouter
from cloudplane.storage import pool_service
from cloudplane.storage.models import StoragePool
from cloudplane.storage.repository import pools_query
from cloudplane.storage.schemas import (
    PoolKind,
    StoragePoolCreate,
    StoragePoolOut,
    StoragePoolUpdate,
)
from cloudplane.storage.views import pool_view, pool_views

router = PrefixedRouter(prefix="/api/v1/storage-pools", tags=["storage"])

_READ_ERRORS = error_responses(Unauthorized, Forbidden, NotFound)


@router.get("", responses=error_responses(Unauthorized, Forbidden, BadRequest))
async def list_storage_pools(
    session: SessionDep,
    _admin: AdminPrincipal,
    params: ListParamsDep,
    name: Annotated[str | None, Query(max_length=64)] = None,
    name_prefix: Annotated[str | None, Query(max_length=64)] = None,
    kind: PoolKind | None = None,
    deleted: Annotated[bool, Query(description="Include deleted pools.")] = False,
) -> Page[StoragePoolOut]:
    """Storage pools with their capacity, allocation and status."""
    stmt = pools_query(include_deleted=deleted)
    if name is not None:
        stmt = stmt.where(StoragePool.name == name)
    if name_prefix:
        stmt = stmt.where(starts_with(StoragePool.name, name_prefix))
    if kind is not None:
        stmt = stmt.where(StoragePool.kind == kind.value)
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=StoragePool.id,
        sort_columns=timestamped_name_sorts(StoragePool, StoragePool.name),
        params=params,
    )
    return Page(items=await pool_views(session, rows), next_marker=next_marker)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Unauthorized, Forbidden, Conflict, NotSupported),
)
async def create_storage_pool(
    request: Request,
    response: Response,
    body: StoragePoolCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    _admin: AdminPrincipal,
    idempotency: IdempotencyDep,
) -> StoragePoolOut:
    """Create a pool: a directory, an NFS export to mount, or an NFS export already mounted."""
    pool = await pool_service.create_pool(session, runtime, body)
    note_resource(request, pool.id)
    view = await pool_view(session, pool)
    response.headers["Location"] = f"/api/v1/storage-pools/{pool.id}"
    await idempotency.remember(status.HTTP_201_CREATED, view, location=response.headers["Location"])
    return view


@router.get("/{pool_id}", responses=_READ_ERRORS)
async def show_storage_pool(
    pool_id: str,
    session: SessionDep,
    _admin: AdminPrincipal,
    deleted: Annotated[bool, Query(description="Allow a deleted pool.")] = False,
) -> StoragePoolOut:
    """One storage pool."""
    pool = await pool_service.get_pool(session, pool_id, include_deleted=deleted)
    return await pool_view(session, pool)


@router.patch("/{pool_id}", responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict))
async def update_storage_pool(
    pool_id: str, body: StoragePoolUpdate, session: SessionDep, _admin: AdminPrincipal
) -> StoragePoolOut:
    """Rename a pool or change its explicit capacity (null: the file system's size)."""
    pool = await pool_service.update_pool(session, pool_id, body)
    return await pool_view(session, pool)


@router.delete(
    "/{pool_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def delete_storage_pool(
    pool_id: str, session: SessionDep, runtime: RuntimeDep, _admin: AdminPrincipal
) -> None:
    """Delete a pool without volumes or volume types (an export cloudplane mounted is unmounted)."""
    await pool_service.delete_pool(session, runtime, pool_id)

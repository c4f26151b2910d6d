"""``/api/v1/snapshots``: list, show, create, rename, delete volume snapshots."""

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
from cloudplane.storage import repository, snapshot_service
from cloudplane.storage.models import Snapshot
from cloudplane.storage.schemas import (
    SnapshotAccepted,
    SnapshotCreate,
    SnapshotOut,
    SnapshotUpdate,
)
from cloudplane.storage.service import listing_scope
from cloudplane.storage.states import SnapshotStatus
from cloudplane.storage.views import snapshot_accepted, snapshot_out

router = PrefixedRouter(prefix="/api/v1/snapshots", tags=["storage"])

_ACTION_ERRORS = error_responses(
    Unauthorized, Forbidden, NotFound, Conflict, QuotaExceeded, NotSupported
)


@router.get("", responses=error_responses(Unauthorized, BadRequest))
async def list_snapshots(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    name: Annotated[str | None, Query(max_length=255)] = None,
    name_prefix: Annotated[str | None, Query(max_length=255)] = None,
    status_: Annotated[SnapshotStatus | None, Query(alias="status")] = None,
    volume_id: str | None = None,
    project_id: Annotated[str | None, Query(description="Admins only.")] = None,
    all_projects: Annotated[bool, Query(description="Admins only.")] = False,
    deleted: Annotated[bool, Query(description="Admins only: include deleted snapshots.")] = False,
) -> Page[SnapshotOut]:
    """Snapshots of the caller's project (admins: any project, or all), newest first."""
    scope = listing_scope(principal, project_id=project_id, all_projects=all_projects)
    stmt = repository.snapshots_query(
        project_id=scope, include_deleted=deleted and principal.is_admin
    )
    stmt = where_equal(
        stmt,
        (Snapshot.name, name),
        (Snapshot.status, status_.value if status_ else None),
        (Snapshot.volume_id, volume_id),
    )
    if name_prefix:
        stmt = stmt.where(starts_with(Snapshot.name, name_prefix))
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=Snapshot.id,
        sort_columns=timestamped_name_sorts(Snapshot, Snapshot.name),
        params=params,
    )
    return Page(items=[snapshot_out(row) for row in rows], next_marker=next_marker)


@router.post("", status_code=status.HTTP_202_ACCEPTED, responses=_ACTION_ERRORS)
async def create_snapshot(
    request: Request,
    response: Response,
    body: SnapshotCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
    idempotency: IdempotencyDep,
) -> SnapshotAccepted:
    """Snapshot an `available` or `in-use` volume (creating → available)."""
    snapshot, operation = await snapshot_service.create_snapshot(session, runtime, principal, body)
    note_resource(request, snapshot.id)
    accepted = snapshot_accepted(snapshot, operation.id)
    response.headers["Location"] = f"/api/v1/operations/{operation.id}"
    await idempotency.remember(
        status.HTTP_202_ACCEPTED, accepted, location=response.headers["Location"]
    )
    return accepted


@router.get("/{snapshot_id}", responses=error_responses(Unauthorized, NotFound))
async def show_snapshot(
    snapshot_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    deleted: Annotated[bool, Query(description="Admins only: allow a deleted snapshot.")] = False,
) -> SnapshotOut:
    """One snapshot."""
    snapshot = await snapshot_service.get_snapshot(
        session, principal, snapshot_id, include_deleted=deleted
    )
    return snapshot_out(snapshot)


@router.patch(
    "/{snapshot_id}", responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict)
)
async def update_snapshot(
    snapshot_id: str, body: SnapshotUpdate, session: SessionDep, principal: WriterPrincipal
) -> SnapshotOut:
    """Rename a snapshot or change its description."""
    snapshot = await snapshot_service.update_snapshot(session, principal, snapshot_id, body)
    return snapshot_out(snapshot)


@router.delete("/{snapshot_id}", status_code=status.HTTP_202_ACCEPTED, responses=_ACTION_ERRORS)
async def delete_snapshot(
    snapshot_id: str,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
) -> SnapshotAccepted:
    """Delete an `available` or `error` snapshot."""
    snapshot, operation = await snapshot_service.request_delete(
        session, runtime, principal, snapshot_id
    )
    response.headers["Location"] = f"/api/v1/operations/{operation.id}"
    return snapshot_accepted(snapshot, operation.id)

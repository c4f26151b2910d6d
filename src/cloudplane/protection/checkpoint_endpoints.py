"""``/api/v1/protection/checkpoints``: list, show, protect now, delete."""

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
from cloudplane.kit.pagination import ListParamsDep, Page, paginate, where_equal
from cloudplane.kit.routing import PrefixedRouter
from cloudplane.network.listing import (
    AllProjectsQuery,
    DeletedQuery,
    ProjectQuery,
    list_scope,
    with_deleted,
)
from cloudplane.protection import checkpoint_service, repository
from cloudplane.protection.models import Checkpoint
from cloudplane.protection.schemas import CheckpointAccepted, CheckpointCreate, CheckpointOut
from cloudplane.protection.states import CheckpointStatus
from cloudplane.protection.views import checkpoint_accepted, checkpoint_out

router = PrefixedRouter(prefix="/api/v1/protection/checkpoints", tags=["protection"])

_ACTION_ERRORS = error_responses(
    Unauthorized, Forbidden, NotFound, Conflict, QuotaExceeded, NotSupported
)


@router.get("", responses=error_responses(Unauthorized, BadRequest))
async def list_checkpoints(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    plan_id: str | None = None,
    status_: Annotated[CheckpointStatus | None, Query(alias="status")] = None,
    project_id: ProjectQuery = None,
    all_projects: AllProjectsQuery = False,
    deleted: DeletedQuery = False,
) -> Page[CheckpointOut]:
    """Checkpoints of the caller's project, newest first."""
    stmt = repository.scoped(
        Checkpoint,
        project_id=list_scope(principal, project_id, all_projects),
        include_deleted=with_deleted(principal, deleted),
    )
    stmt = where_equal(
        stmt,
        (Checkpoint.plan_id, plan_id),
        (Checkpoint.status, status_.value if status_ else None),
    )
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=Checkpoint.id,
        sort_columns={"created_at": Checkpoint.created_at, "updated_at": Checkpoint.updated_at},
        params=params,
    )
    return Page(items=[checkpoint_out(row) for row in rows], next_marker=next_marker)


@router.post("", status_code=status.HTTP_202_ACCEPTED, responses=_ACTION_ERRORS)
async def create_checkpoint(
    request: Request,
    response: Response,
    body: CheckpointCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
    idempotency: IdempotencyDep,
) -> CheckpointAccepted:
    """Protect a plan now (protecting → available | error)."""
    checkpoint, operation = await checkpoint_service.start_protect(
        session, runtime, principal, body.plan_id
    )
    note_resource(request, checkpoint.id)
    accepted = checkpoint_accepted(checkpoint, operation.id)
    response.headers["Location"] = f"/api/v1/operations/{operation.id}"
    await idempotency.remember(
        status.HTTP_202_ACCEPTED, accepted, location=response.headers["Location"]
    )
    return accepted


@router.get("/{checkpoint_id}", responses=error_responses(Unauthorized, NotFound))
async def show_checkpoint(
    checkpoint_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    deleted: DeletedQuery = False,
) -> CheckpointOut:
    """One checkpoint with its resource graph and per-resource status."""
    checkpoint = await checkpoint_service.get_checkpoint(
        session, principal, checkpoint_id, include_deleted=deleted
    )
    return checkpoint_out(checkpoint)


@router.delete("/{checkpoint_id}", status_code=status.HTTP_202_ACCEPTED, responses=_ACTION_ERRORS)
async def delete_checkpoint(
    checkpoint_id: str,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
) -> CheckpointAccepted:
    """Delete an `available` or `error` checkpoint and its stored data (deleting → deleted)."""
    checkpoint, operation = await checkpoint_service.request_delete(
        session, runtime, principal, checkpoint_id
    )
    response.headers["Location"] = f"/api/v1/operations/{operation.id}"
    return checkpoint_accepted(checkpoint, operation.id)

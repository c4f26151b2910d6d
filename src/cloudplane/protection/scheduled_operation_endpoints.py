"""``/api/v1/protection/scheduled-operations``: list, show, create, delete."""

from __future__ import annotations

from fastapi import Request, Response, status

from cloudplane.audit.recorder import note_resource
from cloudplane.identity.dependencies import CurrentPrincipal, WriterPrincipal
from cloudplane.kit.clock import utcnow
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
from cloudplane.kit.pagination import ListParamsDep, Page, paginate, timestamped_name_sorts
from cloudplane.kit.routing import PrefixedRouter
from cloudplane.network.listing import (
    AllProjectsQuery,
    DeletedQuery,
    ProjectQuery,
    list_scope,
    with_deleted,
)
from cloudplane.protection import repository, scheduled_operation_service
from cloudplane.protection.models import ScheduledOperation
from cloudplane.protection.schemas import ScheduledOperationCreate, ScheduledOperationOut
from cloudplane.protection.views import scheduled_operation_out

router = PrefixedRouter(prefix="/api/v1/protection/scheduled-operations", tags=["protection"])


@router.get("", responses=error_responses(Unauthorized, BadRequest))
async def list_scheduled_operations(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    plan_id: str | None = None,
    trigger_id: str | None = None,
    project_id: ProjectQuery = None,
    all_projects: AllProjectsQuery = False,
    deleted: DeletedQuery = False,
) -> Page[ScheduledOperationOut]:
    """Scheduled operations of the caller's project, newest first."""
    stmt = repository.scoped(
        ScheduledOperation,
        project_id=list_scope(principal, project_id, all_projects),
        include_deleted=with_deleted(principal, deleted),
    )
    if plan_id is not None:
        stmt = stmt.where(ScheduledOperation.plan_id == plan_id)
    if trigger_id is not None:
        stmt = stmt.where(ScheduledOperation.trigger_id == trigger_id)
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=ScheduledOperation.id,
        sort_columns=timestamped_name_sorts(ScheduledOperation, ScheduledOperation.name),
        params=params,
    )
    return Page(items=[scheduled_operation_out(row) for row in rows], next_marker=next_marker)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def create_scheduled_operation(
    request: Request,
    response: Response,
    body: ScheduledOperationCreate,
    session: SessionDep,
    principal: WriterPrincipal,
    idempotency: IdempotencyDep,
) -> ScheduledOperationOut:
    """Protect a plan whenever a trigger fires (only while the plan is started)."""
    operation = await scheduled_operation_service.create_scheduled_operation(
        session, principal, body, utcnow()
    )
    note_resource(request, operation.id)
    created = scheduled_operation_out(operation)
    response.headers["Location"] = f"{router.prefix}/{operation.id}"
    await idempotency.remember(
        status.HTTP_201_CREATED, created, location=response.headers["Location"]
    )
    return created


@router.get("/{operation_id}", responses=error_responses(Unauthorized, NotFound))
async def show_scheduled_operation(
    operation_id: str, session: SessionDep, principal: CurrentPrincipal
) -> ScheduledOperationOut:
    """One scheduled operation."""
    operation = await scheduled_operation_service.get_scheduled_operation(
        session, principal, operation_id
    )
    return scheduled_operation_out(operation)


@router.delete(
    "/{operation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(Unauthorized, Forbidden, NotFound),
)
async def delete_scheduled_operation(
    operation_id: str, session: SessionDep, principal: WriterPrincipal
) -> None:
    """Delete a scheduled operation; it fires no more."""
    await scheduled_operation_service.delete_scheduled_operation(session, principal, operation_id)

"""``/api/v1/operations``: the record of asynchronous work."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import Query
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.identity.dependencies import CurrentPrincipal
from cloudplane.kit.deps import SessionDep
from cloudplane.kit.errors import BadRequest, NotFound, Unauthorized, error_responses
from cloudplane.kit.pagination import ListParamsDep, Page, paginate, where_equal
from cloudplane.kit.routing import PrefixedRouter
from cloudplane.operations.models import Operation, OperationEvent
from cloudplane.operations.schemas import OperationEventOut, OperationOut

router = PrefixedRouter(prefix="/api/v1/operations", tags=["operations"])

OperationStatus = Literal["pending", "running", "succeeded", "failed"]


async def _with_events(
    session: AsyncSession, operations: Sequence[Operation]
) -> list[OperationOut]:
    """Operation bodies with their events, loaded in one query for the whole page."""
    ids = [operation.id for operation in operations]
    events: dict[str, list[OperationEventOut]] = defaultdict(list)
    if ids:
        rows = await session.scalars(
            select(OperationEvent)
            .where(OperationEvent.operation_id.in_(ids))
            .order_by(OperationEvent.at, OperationEvent.id)
        )
        for event in rows:
            events[event.operation_id].append(OperationEventOut(at=event.at, message=event.message))
    return [
        OperationOut(
            id=op.id,
            action=op.action,
            resource_type=op.resource_type,
            resource_id=op.resource_id,
            status=op.status,
            error=op.error,
            request_id=op.request_id,
            user_id=op.user_id,
            project_id=op.project_id,
            attempts=op.attempts,
            created_at=op.created_at,
            started_at=op.started_at,
            finished_at=op.finished_at,
            deadline_at=op.deadline_at,
            events=events[op.id],
        )
        for op in operations
    ]


@router.get("", responses=error_responses(Unauthorized, BadRequest))
async def list_operations(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    resource_id: str | None = None,
    resource_type: str | None = None,
    action: str | None = None,
    status: OperationStatus | None = None,
    all_projects: Annotated[bool, Query(description="Admins only.")] = False,
) -> Page[OperationOut]:
    """Operations of the caller's project, newest first; filter by resource or status."""
    stmt = select(Operation)
    if not (principal.is_admin and all_projects):
        stmt = stmt.where(Operation.project_id == principal.project_id)
    stmt = where_equal(
        stmt,
        (Operation.resource_id, resource_id),
        (Operation.resource_type, resource_type),
        (Operation.action, action),
        (Operation.status, status),
    )
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=Operation.id,
        sort_columns={"created_at": Operation.created_at},
        params=params,
    )
    return Page(items=await _with_events(session, rows), next_marker=next_marker)


@router.get("/{operation_id}", responses=error_responses(Unauthorized, NotFound))
async def show_operation(
    operation_id: str, session: SessionDep, principal: CurrentPrincipal
) -> OperationOut:
    """One operation with its events."""
    operation = await session.get(Operation, operation_id)
    if operation is None or not (
        principal.is_admin or operation.project_id == principal.project_id
    ):
        raise NotFound("operation", operation_id)
    return (await _with_events(session, [operation]))[0]

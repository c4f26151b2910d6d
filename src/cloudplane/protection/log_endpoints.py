"""``/api/v1/protection/operation-logs``: the record of protection work and firings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from cloudplane.identity.dependencies import CurrentPrincipal
from cloudplane.kit.deps import SessionDep
from cloudplane.kit.errors import BadRequest, Unauthorized, error_responses
from cloudplane.kit.pagination import ListParamsDep, Page, paginate, where_equal
from cloudplane.kit.routing import PrefixedRouter
from cloudplane.network.listing import AllProjectsQuery, ProjectQuery, list_scope
from cloudplane.protection import repository
from cloudplane.protection.models import ProtectionLog
from cloudplane.protection.schemas import OperationLogOut
from cloudplane.protection.states import LogStatus, LogType
from cloudplane.protection.views import log_out

router = PrefixedRouter(prefix="/api/v1/protection/operation-logs", tags=["protection"])


@router.get("", responses=error_responses(Unauthorized, BadRequest))
async def list_operation_logs(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    operation_type: LogType | None = None,
    status_: Annotated[LogStatus | None, Query(alias="status")] = None,
    plan_id: str | None = None,
    checkpoint_id: str | None = None,
    scheduled_operation_id: str | None = None,
    project_id: ProjectQuery = None,
    all_projects: AllProjectsQuery = False,
) -> Page[OperationLogOut]:
    """One row per protect, restore, verify, checkpoint delete and scheduled firing."""
    stmt = repository.scoped(
        ProtectionLog, project_id=list_scope(principal, project_id, all_projects)
    )
    stmt = where_equal(
        stmt,
        (ProtectionLog.operation_type, operation_type.value if operation_type else None),
        (ProtectionLog.status, status_.value if status_ else None),
        (ProtectionLog.plan_id, plan_id),
        (ProtectionLog.checkpoint_id, checkpoint_id),
        (ProtectionLog.scheduled_operation_id, scheduled_operation_id),
    )
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=ProtectionLog.id,
        sort_columns={"created_at": ProtectionLog.created_at},
        params=params,
    )
    return Page(items=[log_out(row) for row in rows], next_marker=next_marker)

"""``GET /api/v1/audit-events``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from sqlalchemy import select

from cloudplane.audit.models import AuditEvent
from cloudplane.audit.schemas import AuditEventOut
from cloudplane.identity.dependencies import CurrentPrincipal
from cloudplane.kit.deps import SessionDep
from cloudplane.kit.errors import BadRequest, Unauthorized, error_responses
from cloudplane.kit.pagination import ListParamsDep, Page, paginate, where_equal
from cloudplane.kit.routing import PrefixedRouter

router = PrefixedRouter(prefix="/api/v1/audit-events", tags=["audit"])


@router.get("", responses=error_responses(BadRequest, Unauthorized))
async def list_audit_events(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    resource_id: Annotated[str | None, Query()] = None,
    resource_type: Annotated[str | None, Query()] = None,
    user_id: Annotated[str | None, Query()] = None,
    outcome: Annotated[str | None, Query()] = None,
    project_id: Annotated[str | None, Query(description="Admins only.")] = None,
) -> Page[AuditEventOut]:
    """Every mutating request; admins see all projects, others their own."""
    stmt = select(AuditEvent)
    if not principal.is_admin:
        stmt = stmt.where(AuditEvent.project_id == principal.project_id)
    elif project_id is not None:
        stmt = stmt.where(AuditEvent.project_id == project_id)
    stmt = where_equal(
        stmt,
        (AuditEvent.resource_id, resource_id),
        (AuditEvent.resource_type, resource_type),
        (AuditEvent.user_id, user_id),
        (AuditEvent.outcome, outcome),
    )
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=AuditEvent.id,
        sort_columns={"created_at": AuditEvent.at, "at": AuditEvent.at},
        params=params,
    )
    return Page(items=[AuditEventOut.model_validate(r) for r in rows], next_marker=next_marker)

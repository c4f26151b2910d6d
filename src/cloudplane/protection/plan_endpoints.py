"""``/api/v1/protection/plans``: list, show, create, edit, start, suspend, delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response, status

from cloudplane.audit.recorder import note_resource
from cloudplane.identity.dependencies import CurrentPrincipal, WriterPrincipal
from cloudplane.kit.clock import utcnow
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
from cloudplane.network.listing import (
    AllProjectsQuery,
    DeletedQuery,
    ProjectQuery,
    list_scope,
    with_deleted,
)
from cloudplane.protection import plan_service, repository
from cloudplane.protection.models import ProtectionPlan
from cloudplane.protection.schemas import PlanCreate, PlanOut, PlanUpdate
from cloudplane.protection.states import PlanStatus
from cloudplane.protection.views import plan_out

router = PrefixedRouter(prefix="/api/v1/protection/plans", tags=["protection"])

_WRITE_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Conflict)


@router.get("", responses=error_responses(Unauthorized, BadRequest))
async def list_plans(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    name: Annotated[str | None, Query(max_length=255)] = None,
    name_prefix: Annotated[str | None, Query(max_length=255)] = None,
    status_: Annotated[PlanStatus | None, Query(alias="status")] = None,
    project_id: ProjectQuery = None,
    all_projects: AllProjectsQuery = False,
    deleted: DeletedQuery = False,
) -> Page[PlanOut]:
    """Protection plans of the caller's project, newest first."""
    stmt = repository.scoped(
        ProtectionPlan,
        project_id=list_scope(principal, project_id, all_projects),
        include_deleted=with_deleted(principal, deleted),
    )
    stmt = where_equal(
        stmt,
        (ProtectionPlan.name, name),
        (ProtectionPlan.status, status_.value if status_ else None),
    )
    if name_prefix:
        stmt = stmt.where(starts_with(ProtectionPlan.name, name_prefix))
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=ProtectionPlan.id,
        sort_columns=timestamped_name_sorts(ProtectionPlan, ProtectionPlan.name),
        params=params,
    )
    return Page(items=[plan_out(row) for row in rows], next_marker=next_marker)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Unauthorized, Forbidden, Conflict, QuotaExceeded, NotSupported),
)
async def create_plan(
    request: Request,
    response: Response,
    body: PlanCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
    idempotency: IdempotencyDep,
) -> PlanOut:
    """Create a plan (`suspended`) for resources of the project with a provider's options."""
    plan = await plan_service.create_plan(session, runtime, principal, body)
    note_resource(request, plan.id)
    created = plan_out(plan)
    response.headers["Location"] = f"{router.prefix}/{plan.id}"
    await idempotency.remember(
        status.HTTP_201_CREATED, created, location=response.headers["Location"]
    )
    return created


@router.get("/{plan_id}", responses=error_responses(Unauthorized, NotFound))
async def show_plan(plan_id: str, session: SessionDep, principal: CurrentPrincipal) -> PlanOut:
    """One plan."""
    return plan_out(await plan_service.get_plan(session, principal, plan_id))


@router.patch("/{plan_id}", responses=_WRITE_ERRORS)
async def update_plan(
    plan_id: str,
    body: PlanUpdate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
) -> PlanOut:
    """Edit a suspended plan (409 while started)."""
    plan = await plan_service.update_plan(session, runtime, principal, plan_id, body)
    return plan_out(plan)


@router.post("/{plan_id}/start", responses=_WRITE_ERRORS)
async def start_plan(plan_id: str, session: SessionDep, principal: WriterPrincipal) -> PlanOut:
    """Start the plan: its scheduled operations fire from now on."""
    plan = await plan_service.set_status(session, principal, plan_id, PlanStatus.STARTED, utcnow())
    return plan_out(plan)


@router.post("/{plan_id}/suspend", responses=_WRITE_ERRORS)
async def suspend_plan(plan_id: str, session: SessionDep, principal: WriterPrincipal) -> PlanOut:
    """Suspend the plan: its scheduled operations do not fire."""
    plan = await plan_service.set_status(
        session, principal, plan_id, PlanStatus.SUSPENDED, utcnow()
    )
    return plan_out(plan)


@router.delete("/{plan_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_WRITE_ERRORS)
async def delete_plan(plan_id: str, session: SessionDep, principal: WriterPrincipal) -> None:
    """Delete a plan no scheduled operation uses (409 otherwise)."""
    await plan_service.delete_plan(session, principal, plan_id)

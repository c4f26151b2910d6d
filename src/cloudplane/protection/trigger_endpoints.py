"""``/api/v1/protection/triggers``: list, show, create, edit, delete time triggers."""

from __future__ import annotations

from fastapi import Request, Response, status

from cloudplane.audit.recorder import note_resource
from cloudplane.identity.dependencies import CurrentPrincipal, WriterPrincipal
from cloudplane.kit.clock import utcnow
from cloudplane.kit.deps import RuntimeDep, SessionDep
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
from cloudplane.protection import repository, trigger_service
from cloudplane.protection.models import ProtectionTrigger
from cloudplane.protection.schemas import TriggerCreate, TriggerOut, TriggerUpdate
from cloudplane.protection.views import trigger_out

router = PrefixedRouter(prefix="/api/v1/protection/triggers", tags=["protection"])

_WRITE_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Conflict)


@router.get("", responses=error_responses(Unauthorized, BadRequest))
async def list_triggers(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    project_id: ProjectQuery = None,
    all_projects: AllProjectsQuery = False,
    deleted: DeletedQuery = False,
) -> Page[TriggerOut]:
    """Triggers of the caller's project, newest first."""
    stmt = repository.scoped(
        ProtectionTrigger,
        project_id=list_scope(principal, project_id, all_projects),
        include_deleted=with_deleted(principal, deleted),
    )
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=ProtectionTrigger.id,
        sort_columns=timestamped_name_sorts(ProtectionTrigger, ProtectionTrigger.name),
        params=params,
    )
    return Page(items=[trigger_out(row) for row in rows], next_marker=next_marker)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Unauthorized, Forbidden, Conflict),
)
async def create_trigger(
    request: Request,
    response: Response,
    body: TriggerCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
    idempotency: IdempotencyDep,
) -> TriggerOut:
    """Create a time trigger (crontab or RFC 5545 calendar rule)."""
    trigger = await trigger_service.create_trigger(session, runtime, principal, body, utcnow())
    note_resource(request, trigger.id)
    created = trigger_out(trigger)
    response.headers["Location"] = f"{router.prefix}/{trigger.id}"
    await idempotency.remember(
        status.HTTP_201_CREATED, created, location=response.headers["Location"]
    )
    return created


@router.get("/{trigger_id}", responses=error_responses(Unauthorized, NotFound))
async def show_trigger(
    trigger_id: str, session: SessionDep, principal: CurrentPrincipal
) -> TriggerOut:
    """One trigger."""
    return trigger_out(await trigger_service.get_trigger(session, principal, trigger_id))


@router.patch("/{trigger_id}", responses=_WRITE_ERRORS)
async def update_trigger(
    trigger_id: str,
    body: TriggerUpdate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
) -> TriggerOut:
    """Rename a trigger or change when it fires."""
    trigger = await trigger_service.update_trigger(
        session, runtime, principal, trigger_id, body, utcnow()
    )
    return trigger_out(trigger)


@router.delete("/{trigger_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_WRITE_ERRORS)
async def delete_trigger(trigger_id: str, session: SessionDep, principal: WriterPrincipal) -> None:
    """Delete a trigger no scheduled operation uses (409 otherwise)."""
    await trigger_service.delete_trigger(session, principal, trigger_id)

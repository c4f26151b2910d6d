"""``/api/v1/projects`` and ``/api/v1/projects/{id}/quotas``.

Admins manage every project. Anyone else sees, and may read the quotas of, only the projects
in which they have a role; any other project is 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, status

from cloudplane.audit.recorder import note_resource
from cloudplane.identity import repository, service
from cloudplane.identity.dependencies import AdminPrincipal, CurrentPrincipal
from cloudplane.identity.models import Project
from cloudplane.identity.schemas import (
    ProjectCreate,
    ProjectOut,
    ProjectUpdate,
    QuotaOut,
    QuotaUpdate,
    QuotaValues,
)
from cloudplane.identity.service import QuotaView
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

router = PrefixedRouter(prefix="/api/v1/projects", tags=["identity"])

_READ_ERRORS = error_responses(Unauthorized, NotFound)
_ADMIN_WRITE_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Conflict)

DeletedQuery = Annotated[bool, Query(description="Admins only: include deleted projects.")]


def _quota_out(view: QuotaView) -> QuotaOut:
    return QuotaOut(
        project_id=view.project_id,
        limits=QuotaValues.model_validate(view.limits),
        in_use=QuotaValues.model_validate(view.in_use),
    )


@router.get("", responses=error_responses(Unauthorized, BadRequest))
async def list_projects(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    name: Annotated[str | None, Query(max_length=64)] = None,
    name_prefix: Annotated[str | None, Query(max_length=64)] = None,
    enabled: bool | None = None,
    deleted: DeletedQuery = False,
) -> Page[ProjectOut]:
    """Projects: every one for admins, those where the caller has a role for everyone else."""
    stmt = repository.projects_query(
        include_deleted=deleted and principal.is_admin,
        member_user_id=None if principal.is_admin else principal.user_id,
        name=name,
        name_prefix=name_prefix,
        enabled=enabled,
    )
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=Project.id,
        sort_columns=timestamped_name_sorts(Project, Project.name),
        params=params,
    )
    return Page(items=[ProjectOut.model_validate(row) for row in rows], next_marker=next_marker)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Unauthorized, Forbidden, Conflict),
)
async def create_project(
    request: Request,
    body: ProjectCreate,
    session: SessionDep,
    principal: AdminPrincipal,
    idempotency: IdempotencyDep,
) -> ProjectOut:
    """Create a project with the default quota; a name taken by a live project is 409."""
    project = await service.create_project(
        session, name=body.name, description=body.description, enabled=body.enabled
    )
    note_resource(request, project.id)
    created = ProjectOut.model_validate(project)
    await idempotency.remember(status.HTTP_201_CREATED, created)
    return created


@router.get("/{project_id}", responses=_READ_ERRORS)
async def show_project(
    project_id: str, session: SessionDep, principal: CurrentPrincipal, deleted: DeletedQuery = False
) -> ProjectOut:
    """One project (non-admins: only one where they have a role)."""
    project = await service.get_visible_project(session, principal, project_id, deleted=deleted)
    return ProjectOut.model_validate(project)


@router.patch("/{project_id}", responses=_ADMIN_WRITE_ERRORS)
async def update_project(
    project_id: str,
    body: ProjectUpdate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: AdminPrincipal,
) -> ProjectOut:
    """Rename, describe, enable or disable a project."""
    project = await service.update_project(session, project_id, body.changes())
    service.forget_credentials_after_commit(session, runtime.authenticator)
    return ProjectOut.model_validate(project)


@router.delete(
    "/{project_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_ADMIN_WRITE_ERRORS
)
async def delete_project(
    project_id: str, session: SessionDep, runtime: RuntimeDep, principal: AdminPrincipal
) -> None:
    """Delete a project without live resources (else 409), its memberships and API keys."""
    await service.delete_project(session, project_id, runtime.usage_counters)
    service.forget_credentials_after_commit(session, runtime.authenticator)


@router.get("/{project_id}/quotas", responses=_READ_ERRORS)
async def show_quota(
    project_id: str, session: SessionDep, runtime: RuntimeDep, principal: CurrentPrincipal
) -> QuotaOut:
    """A project's limits (-1 = unlimited) and its usage counted from live rows."""
    await service.get_visible_project(session, principal, project_id)
    return _quota_out(await service.get_quota(session, project_id, runtime.usage_counters))


@router.put("/{project_id}/quotas", responses=error_responses(Unauthorized, Forbidden, NotFound))
async def update_quota(
    project_id: str,
    body: QuotaUpdate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: AdminPrincipal,
) -> QuotaOut:
    """Set some of a project's limits from a flat map (`{"servers": 20}`); the rest stay."""
    view = await service.set_quota(session, project_id, body.limits(), runtime.usage_counters)
    return _quota_out(view)

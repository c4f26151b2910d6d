"""``/api/v1/projects/{id}/members``: who has which role in a project, for admins."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, status

from cloudplane.identity import repository, service
from cloudplane.identity.dependencies import AdminPrincipal
from cloudplane.identity.models import Membership
from cloudplane.identity.schemas import MembershipOut, MembershipSet, ProjectRole
from cloudplane.kit.deps import RuntimeDep, SessionDep
from cloudplane.kit.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    error_responses,
)
from cloudplane.kit.pagination import ListParamsDep, Page, paginate
from cloudplane.kit.routing import PrefixedRouter

router = PrefixedRouter(prefix="/api/v1/projects/{project_id}/members", tags=["identity"])


@router.get("", responses=error_responses(Unauthorized, Forbidden, NotFound, BadRequest))
async def list_members(
    project_id: str,
    session: SessionDep,
    principal: AdminPrincipal,
    params: ListParamsDep,
    role: Annotated[ProjectRole | None, Query()] = None,
) -> Page[MembershipOut]:
    """The project's members and their roles; the marker is a `user_id`."""
    await service.get_project(session, project_id)
    rows, next_marker = await paginate(
        session,
        repository.members_query(project_id, role=role),
        id_column=Membership.user_id,
        sort_columns={"created_at": Membership.created_at, "updated_at": Membership.updated_at},
        params=params,
    )
    return Page(items=[MembershipOut.model_validate(row) for row in rows], next_marker=next_marker)


@router.put("/{user_id}", responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict))
async def set_member(
    project_id: str,
    user_id: str,
    body: MembershipSet,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: AdminPrincipal,
) -> MembershipOut:
    """Give a user a role in the project, replacing the role they had there."""
    membership = await service.set_membership(session, project_id, user_id, body.role)
    service.forget_credentials_after_commit(session, runtime.authenticator)
    return MembershipOut.model_validate(membership)


@router.delete(
    "/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(Unauthorized, Forbidden, NotFound),
)
async def remove_member(
    project_id: str,
    user_id: str,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: AdminPrincipal,
) -> None:
    """Take a user's role in the project away."""
    await service.remove_membership(session, project_id, user_id)
    service.forget_credentials_after_commit(session, runtime.authenticator)

"""``/api/v1/security-groups`` (with ``/{id}/rules``) and ``/api/v1/security-group-rules``.

Every endpoint answers 501 ``not_supported`` when the driver cannot filter traffic.
"""

from __future__ import annotations

from fastapi import Depends, Request, Response, status

from cloudplane.audit.recorder import note_resource
from cloudplane.identity.dependencies import CurrentPrincipal, WriterPrincipal
from cloudplane.kit.db import unit_of_work
from cloudplane.kit.deps import RuntimeDep, SessionDep
from cloudplane.kit.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    NotSupported,
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
)
from cloudplane.kit.routing import PrefixedRouter
from cloudplane.network import repository
from cloudplane.network import security_group_service as service
from cloudplane.network.listing import (
    AllProjectsQuery,
    DeletedQuery,
    NameQuery,
    ProjectQuery,
    list_scope,
    with_deleted,
)
from cloudplane.network.models import SecurityGroup, SecurityGroupRule
from cloudplane.network.security_group_schemas import (
    SecurityGroupCreate,
    SecurityGroupOut,
    SecurityGroupRuleCreate,
    SecurityGroupRuleOut,
)
from cloudplane.network.views import rule_out, security_groups_out


def _require_security_groups(runtime: RuntimeDep) -> None:
    service.require_security_groups(runtime)


router = PrefixedRouter(
    prefix="/api/v1/security-groups",
    tags=["network"],
    dependencies=[Depends(_require_security_groups)],
)
rule_router = PrefixedRouter(
    prefix="/api/v1/security-group-rules",
    tags=["network"],
    dependencies=[Depends(_require_security_groups)],
)

_READ_ERRORS = error_responses(Unauthorized, NotFound, NotSupported)
_WRITE_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Conflict, NotSupported)


@router.get("", responses=error_responses(Unauthorized, BadRequest, NotSupported))
async def list_security_groups(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    name: NameQuery = None,
    name_prefix: NameQuery = None,
    project_id: ProjectQuery = None,
    all_projects: AllProjectsQuery = False,
    deleted: DeletedQuery = False,
) -> Page[SecurityGroupOut]:
    """Security groups of the caller's project, its `default` group included, newest first."""
    # The default group is made on first use; a project looking at its groups is using them.
    async with unit_of_work(runtime.sessions, write=True) as writer:
        await service.ensure_default_group(writer, principal.project_id)
    stmt = repository.scoped_query(
        SecurityGroup,
        project_id=list_scope(principal, project_id, all_projects),
        include_deleted=with_deleted(principal, deleted),
    )
    if name is not None:
        stmt = stmt.where(SecurityGroup.name == name)
    if name_prefix:
        stmt = stmt.where(starts_with(SecurityGroup.name, name_prefix))
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=SecurityGroup.id,
        sort_columns=timestamped_name_sorts(SecurityGroup, SecurityGroup.name),
        params=params,
    )
    return Page(items=await security_groups_out(session, rows), next_marker=next_marker)


@router.post("", status_code=status.HTTP_201_CREATED, responses=_WRITE_ERRORS)
async def create_security_group(
    request: Request,
    response: Response,
    body: SecurityGroupCreate,
    session: SessionDep,
    principal: WriterPrincipal,
    idempotency: IdempotencyDep,
) -> SecurityGroupOut:
    """Create a security group with no rules (it allows nothing until rules are added)."""
    group = await service.create_group(session, principal, body)
    note_resource(request, group.id)
    (created,) = await security_groups_out(session, [group])
    response.headers["Location"] = f"{router.prefix}/{group.id}"
    await idempotency.remember(
        status.HTTP_201_CREATED, created, location=response.headers["Location"]
    )
    return created


@router.get("/{security_group_id}", responses=_READ_ERRORS)
async def show_security_group(
    security_group_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    deleted: DeletedQuery = False,
) -> SecurityGroupOut:
    """One security group with its rules."""
    group = await service.get_group(session, principal, security_group_id, include_deleted=deleted)
    (shown,) = await security_groups_out(session, [group])
    return shown


@router.delete(
    "/{security_group_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_WRITE_ERRORS
)
async def delete_security_group(
    security_group_id: str, session: SessionDep, principal: WriterPrincipal
) -> None:
    """Delete a security group that no port uses (the `default` group stays)."""
    await service.delete_group(session, principal, security_group_id)


@router.post(
    "/{security_group_id}/rules", status_code=status.HTTP_201_CREATED, responses=_WRITE_ERRORS
)
async def add_security_group_rule(
    security_group_id: str,
    request: Request,
    response: Response,
    body: SecurityGroupRuleCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
    idempotency: IdempotencyDep,
) -> SecurityGroupRuleOut:
    """Add an allow rule; ports using the group get it through an operation."""
    rule = await service.add_rule(session, runtime, principal, security_group_id, body)
    note_resource(request, rule.id)
    created = rule_out(rule)
    response.headers["Location"] = f"{rule_router.prefix}/{rule.id}"
    await idempotency.remember(
        status.HTTP_201_CREATED, created, location=response.headers["Location"]
    )
    return created


@rule_router.get("/{rule_id}", responses=_READ_ERRORS)
async def show_security_group_rule(
    rule_id: str, session: SessionDep, principal: CurrentPrincipal
) -> SecurityGroupRuleOut:
    """One security group rule."""
    rule = await session.get(SecurityGroupRule, rule_id)
    if rule is None:
        raise NotFound("security_group_rule", rule_id)
    try:
        await service.get_group(session, principal, rule.security_group_id)
    except NotFound:
        raise NotFound("security_group_rule", rule_id) from None
    return rule_out(rule)


@rule_router.delete("/{rule_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_WRITE_ERRORS)
async def delete_security_group_rule(
    rule_id: str, session: SessionDep, runtime: RuntimeDep, principal: WriterPrincipal
) -> None:
    """Delete a rule; ports using its group lose it through an operation."""
    await service.delete_rule(session, runtime, principal, rule_id)

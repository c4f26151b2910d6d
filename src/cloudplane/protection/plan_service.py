"""Plan rules: create (resources that exist, parameters the provider accepts, the ``plans``
quota), edit only while suspended, start and suspend, delete unless a scheduled operation uses it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.drivers.capabilities import Capability
from cloudplane.identity.principal import Principal
from cloudplane.identity.quotas import check_quota, lock_quota
from cloudplane.kit.db import new_id
from cloudplane.kit.errors import Conflict, NotFound, NotSupported, ValidationFailed
from cloudplane.protection import repository, schedule_times
from cloudplane.protection.graph import GraphLoop, MissingResource, build_graph
from cloudplane.protection.models import ProtectionPlan, ScheduledOperation
from cloudplane.protection.protectables import ResourceRef
from cloudplane.protection.providers.base import Provider
from cloudplane.protection.providers.snapshot import SnapshotProvider
from cloudplane.protection.schemas import PlanCreate, PlanResource, PlanUpdate
from cloudplane.protection.states import PlanStatus
from cloudplane.protection.validation import checked, provider_by_id
from cloudplane.runtime import Runtime

RESOURCE = "plan"


def visible(principal: Principal, project_id: str) -> bool:
    return principal.is_admin or project_id == principal.project_id


async def get_plan(
    session: AsyncSession, principal: Principal, plan_id: str, *, for_update: bool = False
) -> ProtectionPlan:
    """A live plan the principal may see; another project's is 404."""
    plan = await repository.get_live(session, ProtectionPlan, plan_id, for_update=for_update)
    if plan is None or not visible(principal, plan.project_id):
        raise NotFound(RESOURCE, plan_id)
    return plan


def require_capability(runtime: Runtime, provider: Provider) -> None:
    """501 when the driver cannot do what the provider needs."""
    needed = (
        Capability.SNAPSHOTS if isinstance(provider, SnapshotProvider) else Capability.VOLUME_DATA
    )
    if needed not in runtime.driver.capabilities:
        raise NotSupported(f"the driver lacks {needed.value}, which the {provider.name} needs")


async def resolve_resources(
    session: AsyncSession, project_id: str, resources: list[PlanResource]
) -> list[dict[str, str]]:
    """The plan's resources with their current names; 422 for one that does not exist."""
    refs = [ResourceRef(item.type.value, item.id) for item in resources]
    if len(set(refs)) != len(refs):
        raise ValidationFailed("a resource is listed twice", field="body.resources")
    try:
        nodes = await build_graph(session, project_id, refs)
    except MissingResource as exc:
        index = refs.index(exc.ref)
        raise ValidationFailed(str(exc), field=f"body.resources.{index}.id") from exc
    except GraphLoop as exc:
        raise ValidationFailed(str(exc), field="body.resources") from exc
    names = {node.ref: node.name for node in nodes}
    return [{"id": ref.id, "type": ref.type, "name": names[ref]} for ref in refs]


async def create_plan(
    session: AsyncSession, runtime: Runtime, principal: Principal, body: PlanCreate
) -> ProtectionPlan:
    """Store a ``suspended`` plan; nothing is stored when a check fails."""
    try:
        provider = provider_by_id(runtime.settings, body.provider_id)
    except NotFound as exc:
        raise ValidationFailed(
            f"there is no provider {body.provider_id}", field="body.provider_id"
        ) from exc
    require_capability(runtime, provider)
    parameters = checked(provider.options_model, body.parameters, field="body.parameters")
    resources = await resolve_resources(session, principal.project_id, body.resources)
    quota = await lock_quota(session, principal.project_id)
    check_quota(
        quota, await repository.protection_usage(session, principal.project_id), {"plans": 1}
    )
    plan = ProtectionPlan(
        id=new_id(),
        project_id=principal.project_id,
        user_id=principal.user_id,
        name=body.name,
        description=body.description,
        provider_id=provider.id,
        status=PlanStatus.SUSPENDED.value,
        resources=resources,
        parameters=parameters.model_dump(mode="json"),
    )
    session.add(plan)
    await _flush_or_conflict(session, body.name)
    return plan


async def update_plan(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    plan_id: str,
    body: PlanUpdate,
) -> ProtectionPlan:
    """Change a suspended plan (409 with ``details.status`` while it is started)."""
    plan = await get_plan(session, principal, plan_id, for_update=True)
    if plan.status != PlanStatus.SUSPENDED.value:
        raise Conflict(
            f"plan {plan_id} is {plan.status}; suspend it to edit it", status=plan.status
        )
    if body.parameters is not None:
        provider = provider_by_id(runtime.settings, plan.provider_id)
        checked_parameters = checked(
            provider.options_model, body.parameters, field="body.parameters"
        )
        plan.parameters = checked_parameters.model_dump(mode="json")
    if body.resources is not None:
        plan.resources = await resolve_resources(session, plan.project_id, body.resources)
    if body.name is not None:
        plan.name = body.name
    if body.description is not None:
        plan.description = body.description
    await _flush_or_conflict(session, plan.name)
    return plan


async def set_status(
    session: AsyncSession, principal: Principal, plan_id: str, wanted: PlanStatus, now: datetime
) -> ProtectionPlan:
    """Start or suspend the plan. Starting schedules its operations' next firings from now;
    suspending clears them, so nothing fires (or piles up as missed) while it is suspended.
    Asking for the state it is in changes nothing."""
    plan = await get_plan(session, principal, plan_id, for_update=True)
    if plan.status == wanted.value:
        return plan
    plan.status = wanted.value
    await session.flush()
    await schedule_times.reschedule_plan(
        session, plan.id, now if wanted is PlanStatus.STARTED else None
    )
    return plan


async def delete_plan(session: AsyncSession, principal: Principal, plan_id: str) -> None:
    """Soft-delete the plan; 409 while a scheduled operation uses it."""
    plan = await get_plan(session, principal, plan_id, for_update=True)
    in_use = await repository.operations_using(session, ScheduledOperation.plan_id, plan.id)
    if in_use:
        raise Conflict(
            f"plan {plan_id} is used by {in_use} scheduled operation(s)", status=plan.status
        )
    plan.mark_deleted(plan.id)
    await session.flush()


async def _flush_or_conflict(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a plan named {name!r} already exists in this project") from exc

"""``/api/v1/protection/providers`` and ``/api/v1/protection/protectables``."""

from __future__ import annotations

from cloudplane.identity.dependencies import CurrentPrincipal
from cloudplane.kit.deps import RuntimeDep, SessionDep
from cloudplane.kit.errors import NotFound, Unauthorized, error_responses
from cloudplane.kit.pagination import Page
from cloudplane.kit.routing import PrefixedRouter
from cloudplane.protection import protectables
from cloudplane.protection.providers import build_providers
from cloudplane.protection.schemas import (
    ProtectableInstanceOut,
    ProtectableTypeOut,
    ProviderOut,
    ResourceRefOut,
)
from cloudplane.protection.states import ResourceType
from cloudplane.protection.validation import provider_by_id
from cloudplane.protection.views import provider_out

router = PrefixedRouter(prefix="/api/v1/protection", tags=["protection"])


@router.get("/providers", responses=error_responses(Unauthorized))
async def list_providers(runtime: RuntimeDep, principal: CurrentPrincipal) -> Page[ProviderOut]:
    """The protection providers and the schemas of their plan and restore parameters."""
    providers = build_providers(runtime.settings).values()
    return Page(items=[provider_out(provider) for provider in providers], next_marker=None)


@router.get("/providers/{provider_id}", responses=error_responses(Unauthorized, NotFound))
async def show_provider(
    provider_id: str, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ProviderOut:
    """One provider."""
    return provider_out(provider_by_id(runtime.settings, provider_id))


@router.get("/protectables", responses=error_responses(Unauthorized))
async def list_protectable_types(principal: CurrentPrincipal) -> Page[ProtectableTypeOut]:
    """The resource types a plan can protect and the types each depends on."""
    return Page(
        items=[
            ProtectableTypeOut(type=type_, dependent_types=list(dependents))
            for type_, dependents in protectables.DEPENDENT_TYPES.items()
        ],
        next_marker=None,
    )


@router.get(
    "/protectables/{resource_type}/instances", responses=error_responses(Unauthorized, NotFound)
)
async def list_protectable_instances(
    resource_type: ResourceType, session: SessionDep, principal: CurrentPrincipal
) -> Page[ProtectableInstanceOut]:
    """The project's instances of a type, each with the resources it depends on."""
    found = await protectables.instances(session, principal.project_id, resource_type)
    names: dict[protectables.ResourceRef, str | None] = {
        instance.ref: instance.name for instance in found
    }
    items = []
    for instance in found:
        dependents = []
        for ref in instance.dependencies:
            if ref not in names:  # each shared image or network is read once
                loaded = await protectables.load(session, principal.project_id, ref)
                names[ref] = loaded.name if loaded is not None else None
            name = names[ref]
            if name is not None:
                dependents.append(ResourceRefOut(type=ref.type, id=ref.id, name=name))
        items.append(
            ProtectableInstanceOut(
                type=instance.ref.type,
                id=instance.ref.id,
                name=instance.name,
                dependent_resources=dependents,
            )
        )
    return Page(items=items, next_marker=None)

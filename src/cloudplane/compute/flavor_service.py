"""Flavor rules: who sees which flavor, creating them, and deleting unused ones.

Everyone sees public flavors; non-public ones exist for admins only (to everyone else they are
404, as if they did not exist). Only admins create and delete flavors.
"""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.compute.flavor_schemas import FlavorCreate
from cloudplane.compute.models import Flavor, Server
from cloudplane.identity.principal import Principal
from cloudplane.kit.db import LIVE, new_id
from cloudplane.kit.errors import Conflict, NotFound

RESOURCE = "flavor"


def listing_query(principal: Principal, *, include_deleted: bool) -> Select[Flavor]:
    """The flavors a list shows: public ones, or all for admins (deleted too if asked)."""
    stmt = select(Flavor)
    if not principal.is_admin:
        stmt = stmt.where(Flavor.is_public.is_(True))
    if not (include_deleted and principal.is_admin):
        stmt = stmt.where(Flavor.deleted_key == LIVE)
    return stmt


async def get_flavor(
    session: AsyncSession,
    principal: Principal,
    flavor_id: str,
    *,
    include_deleted: bool = False,
    lock_for_update: bool = False,
) -> Flavor:
    """A flavor the principal may see; 404 otherwise. ``include_deleted`` counts for admins."""
    stmt = select(Flavor).where(Flavor.id == flavor_id)
    if not (include_deleted and principal.is_admin):
        stmt = stmt.where(Flavor.deleted_key == LIVE)
    if lock_for_update:
        stmt = stmt.with_for_update()
    flavor = await session.scalar(stmt)
    if flavor is None or not (flavor.is_public or principal.is_admin):
        raise NotFound(RESOURCE, flavor_id)
    return flavor


async def get_flavor_for_create(
    session: AsyncSession, principal: Principal, flavor_id: str
) -> Flavor:
    """The live flavor a new server of ``principal`` may use; 404 when unknown, deleted, or
    non-public to a non-admin.

    The row stays share-locked until the caller's transaction ends, so a concurrent delete waits
    and then sees the server that uses it.
    """
    flavor = await session.scalar(
        select(Flavor)
        .where(Flavor.id == flavor_id, Flavor.deleted_key == LIVE)
        .with_for_update(read=True)
    )
    if flavor is None or not (flavor.is_public or principal.is_admin):
        raise NotFound(RESOURCE, flavor_id)
    return flavor


async def create_flavor(session: AsyncSession, body: FlavorCreate) -> Flavor:
    """Store a new flavor; a name taken by a live flavor is 409."""
    flavor = Flavor(
        id=new_id(),
        name=body.name,
        vcpus=body.vcpus,
        ram_mb=body.ram_mb,
        disk_gb=body.disk_gb,
        is_public=body.is_public,
    )
    session.add(flavor)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a flavor named {body.name!r} already exists") from exc
    return flavor


async def delete_flavor(session: AsyncSession, principal: Principal, flavor_id: str) -> None:
    """Soft-delete a flavor no live server uses; 409 (with ``details.in_use_by``) otherwise.

    The row is locked before the count, so a server being created from it either committed
    first (and is counted) or waits and then finds the flavor gone.
    """
    flavor = await get_flavor(session, principal, flavor_id, lock_for_update=True)
    servers = await _live_servers_using(session, flavor_id)
    if servers:
        raise Conflict(
            f"flavor {flavor.name} is in use by {servers} live server(s)",
            in_use_by={"servers": servers},
        )
    flavor.mark_deleted(flavor.id)
    await session.flush()


async def _live_servers_using(session: AsyncSession, flavor_id: str) -> int:
    count = await session.scalar(
        select(func.count(Server.id)).where(
            Server.flavor_id == flavor_id, Server.deleted_key == LIVE
        )
    )
    return int(count or 0)

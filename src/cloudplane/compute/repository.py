"""Server queries and compare-and-set updates. No rules live here; the service has them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.compute.models import Server
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import LIVE


async def get_live_server(session: AsyncSession, server_id: str) -> Server | None:
    return await session.scalar(
        select(Server).where(Server.id == server_id, Server.deleted_key == LIVE)
    )


async def get_any_server(session: AsyncSession, server_id: str) -> Server | None:
    """The server whether or not it is deleted (for admins and for workers)."""
    return await session.scalar(select(Server).where(Server.id == server_id))


async def lock_server_row(session: AsyncSession, server_id: str) -> None:
    """Lock the server's row, live or deleted, until the transaction ends (SQLite has one
    writer anyway). For a change that must lock it before another row of the server."""
    await session.execute(select(Server.id).where(Server.id == server_id).with_for_update())


SERVERS = Server.__table__.c
"""The servers table's columns, for the read paths: a statement made of table columns alone
runs as plain SQL, without the ORM's compile and loading steps (most of a small read's cost)."""

SERVER_VIEW_COLUMNS = (
    SERVERS.id,
    SERVERS.name,
    SERVERS.description,
    SERVERS.project_id,
    SERVERS.user_id,
    SERVERS.flavor_id,
    SERVERS.image_id,
    SERVERS.status,
    SERVERS.task_state,
    SERVERS.power_state,
    SERVERS.metadata.label("metadata_"),
    SERVERS.fault_code,
    SERVERS.fault_message,
    SERVERS.fault_at,
    SERVERS.host,
    SERVERS.created_at,
    SERVERS.updated_at,
    SERVERS.deleted_at,
)
"""What a server body shows, read as plain rows with the ``Server`` attribute names as keys:
the read paths need no ORM instances, and building them costs more than the query."""


def server_views_query(*, project_id: str | None, include_deleted: bool) -> Select[Any]:
    """``servers_query`` reading the body columns only, in table columns (filter and sort it
    with ``SERVERS`` too, or the ORM takes the statement back)."""
    stmt = select(*SERVER_VIEW_COLUMNS)
    if project_id is not None:
        stmt = stmt.where(SERVERS.project_id == project_id)
    if not include_deleted:
        stmt = stmt.where(SERVERS.deleted_key == LIVE)
    return stmt


def servers_query(*, project_id: str | None, include_deleted: bool) -> Select[Server]:
    stmt = select(Server)
    if project_id is not None:
        stmt = stmt.where(Server.project_id == project_id)
    if not include_deleted:
        stmt = stmt.where(Server.deleted_key == LIVE)
    return stmt


async def server_usage(session: AsyncSession, project_id: str) -> Mapping[str, int]:
    """Live servers, vCPUs and RAM of a project, counted from the rows."""
    count, vcpus, ram_mb = (
        await session.execute(
            select(
                func.count(Server.id),
                func.coalesce(func.sum(Server.vcpus), 0),
                func.coalesce(func.sum(Server.ram_mb), 0),
            ).where(Server.project_id == project_id, Server.deleted_key == LIVE)
        )
    ).one()
    return {"servers": int(count), "vcpus": int(vcpus), "ram_mb": int(ram_mb)}


async def compare_and_set(
    session: AsyncSession,
    server_id: str,
    *,
    expect: Mapping[str, Any],
    values: Mapping[str, Any],
) -> bool:
    """Update a live server only if its columns still hold ``expect``; True when it did.

    ``expect`` values that are collections match any member; None matches NULL. ``updated_at``
    becomes now unless ``values`` sets it.
    """
    stmt = update(Server).where(Server.id == server_id, Server.deleted_key == LIVE)
    for name, wanted in expect.items():
        column = getattr(Server, name)
        if wanted is None:
            stmt = stmt.where(column.is_(None))
        elif isinstance(wanted, (set, frozenset, list, tuple)):
            stmt = stmt.where(column.in_(list(wanted)))
        else:
            stmt = stmt.where(column == wanted)
    result = await session.execute(
        stmt.values({"updated_at": utcnow(), **values}).execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]

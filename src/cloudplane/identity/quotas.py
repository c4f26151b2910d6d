"""Quota enforcement: usage is counted from live rows under a lock on the project's quota row.

Features contribute usage counters (``UsageCounter``) for the resources they own; the identity
feature never reads their tables itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.identity.models import QUOTA_RESOURCES, Quota
from cloudplane.kit.errors import NotFound, QuotaExceeded

UsageCounter = Callable[[AsyncSession, str], Awaitable[Mapping[str, int]]]
"""Counts the live usage of some quota resources in one project."""

UNLIMITED = -1


async def lock_quota(session: AsyncSession, project_id: str) -> Quota:
    """The project's quota row, locked until the transaction ends (``SELECT … FOR UPDATE``).

    Concurrent creates in one project queue up here, so each counts the rows the previous one
    committed. On SQLite the transaction already holds the database write lock.
    """
    quota = await session.scalar(
        select(Quota).where(Quota.project_id == project_id).with_for_update()
    )
    if quota is None:
        raise NotFound("project", project_id)
    return quota


def limits_of(quota: Quota) -> dict[str, int]:
    return {name: int(getattr(quota, name)) for name in QUOTA_RESOURCES}


def check_quota(quota: Quota, in_use: Mapping[str, int], requested: Mapping[str, int]) -> None:
    """Raise ``QuotaExceeded`` for the first resource whose limit ``requested`` would pass."""
    limits = limits_of(quota)
    for resource, amount in requested.items():
        limit = limits[resource]
        used = in_use.get(resource, 0)
        if limit != UNLIMITED and used + amount > limit:
            raise QuotaExceeded(resource, limit=limit, in_use=used, requested=amount)


async def count_usage(
    session: AsyncSession, project_id: str, counters: list[UsageCounter]
) -> dict[str, int]:
    """Usage of every quota resource in the project (zero where no feature counts it yet)."""
    usage = dict.fromkeys(QUOTA_RESOURCES, 0)
    for counter in counters:
        usage.update(await counter(session, project_id))
    return usage

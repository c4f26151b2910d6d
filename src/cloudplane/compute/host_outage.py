"""What compute does when a host stops answering: its servers' power state becomes unknown."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.compute.models import Server
from cloudplane.drivers.base import PowerState
from cloudplane.kit.db import LIVE


async def mark_servers_unknown(session: AsyncSession, host_name: str) -> int:
    """Set ``power_state`` to ``nostate`` on the live servers of ``host_name``; returns how many.

    Their status stays as it was: the servers may well still run, cloudplane just cannot see.
    The next report from the host (reconciler) sets the real power state again.
    """
    result = await session.execute(
        update(Server)
        .where(
            Server.host == host_name,
            Server.deleted_key == LIVE,
            Server.power_state != PowerState.NOSTATE.value,
        )
        .values(power_state=PowerState.NOSTATE.value)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)

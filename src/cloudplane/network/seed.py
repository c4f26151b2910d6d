"""Seed networks: the external ``public`` floating-IP pool and ``demo-net`` in project demo."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.kit.db import new_id
from cloudplane.network.addressing import plan_subnet
from cloudplane.network.models import Network
from cloudplane.network.schemas import NetworkStatus

PUBLIC_CIDR = "203.0.113.0/24"
"""TEST-NET-3 (RFC 5737): documentation space, never routed, so it cannot clash with a real
network."""
DEMO_CIDR = "10.0.0.0/24"


async def seed_networks(session: AsyncSession, project_id: str) -> None:
    """Add ``public`` (external) and ``demo-net`` to ``project_id``.

    They are stored ``ACTIVE`` without an operation of their own: seeding runs before any
    worker does, and every port's operation makes sure its network exists on the backend first
    (``create_network`` is idempotent), so the backend gets them on first use.
    """
    for name, cidr, external, description in (
        ("public", PUBLIC_CIDR, True, "Floating IPs come from here."),
        ("demo-net", DEMO_CIDR, False, "A private network to start with."),
    ):
        subnet = plan_subnet(cidr, gateway_ip=None, gateway_given=False, pools=None)
        session.add(
            Network(
                id=new_id(),
                project_id=project_id,
                name=name,
                description=description,
                cidr=str(subnet.network),
                ip_version=subnet.network.version,
                gateway_ip=str(subnet.gateway),
                allocation_pools=[pool.as_json() for pool in subnet.pools],
                external=external,
                shared=False,
                status=NetworkStatus.ACTIVE.value,
            )
        )
    await session.flush()

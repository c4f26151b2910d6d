"""Many servers, written straight into a stopped service's database and simulator state.

Going through the API would take minutes for 100,000 servers; this takes seconds and leaves the
same picture behind: live ``ACTIVE`` rows in the ``demo`` project, owned by ``admin``, made
from the seeded flavors and image, ``created_at`` one second apart (oldest first), and a
running simulated server behind each row, so the reconciler finds nothing to repair.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select

from cloudplane.compute.models import Flavor, Server
from cloudplane.drivers.base import ImageRef, ServerSpec
from cloudplane.drivers.simulator import SIMULATOR_HOST, SimulatorDriver
from cloudplane.identity.models import Project, User
from cloudplane.images.models import Image
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import LIVE, create_engine, new_id, session_factory
from cloudplane.settings import Settings

INSERT_BATCH = 5_000
SIMULATOR_BATCH = 500


@dataclass(frozen=True, slots=True)
class SeededServers:
    ids: list[str]
    """Oldest first, so the default listing (``created_at:desc``) shows them last to first."""
    project_id: str
    database_s: float
    simulator_s: float


async def _seed(settings: Settings, count: int) -> SeededServers:
    engine = create_engine(settings.effective_database_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            project_id = (
                await session.scalars(
                    select(Project.id).where(Project.name == "demo", Project.deleted_key == LIVE)
                )
            ).one()
            user_id = (
                await session.scalars(
                    select(User.id).where(User.username == "admin", User.deleted_key == LIVE)
                )
            ).one()
            flavors = list(
                (await session.scalars(select(Flavor).where(Flavor.deleted_key == LIVE))).all()
            )
            image = (
                await session.scalars(
                    select(Image).where(Image.name == "tiny", Image.deleted_key == LIVE)
                )
            ).one()

        ids = [new_id() for _ in range(count)]
        start = utcnow() - timedelta(seconds=count)
        rows: list[dict[str, Any]] = []
        for index, server_id in enumerate(ids):
            flavor = flavors[index % len(flavors)]
            at = start + timedelta(seconds=index)
            rows.append(
                {
                    "id": server_id,
                    "project_id": project_id,
                    "user_id": user_id,
                    "name": f"web-{index:06d}",
                    "description": "",
                    "flavor_id": flavor.id,
                    "image_id": image.id,
                    "vcpus": flavor.vcpus,
                    "ram_mb": flavor.ram_mb,
                    "disk_gb": flavor.disk_gb,
                    "status": "ACTIVE",
                    "task_state": None,
                    "power_state": "running",
                    "host": SIMULATOR_HOST,
                    "fault_code": None,
                    "fault_message": None,
                    "fault_at": None,
                    "metadata_": {"role": "web", "tier": str(index % 3)},
                    "user_data": None,
                    "created_at": at,
                    "updated_at": at,
                    "deleted_at": None,
                    "deleted_key": LIVE,
                }
            )

        began = time.perf_counter()
        async with sessions() as session:
            for offset in range(0, count, INSERT_BATCH):
                await session.execute(insert(Server), rows[offset : offset + INSERT_BATCH])
            await session.commit()
        database_s = time.perf_counter() - began
    finally:
        await engine.dispose()

    began = time.perf_counter()
    image_ref = ImageRef(
        id=image.id,
        disk_format=image.disk_format,
        path=None,
        size_bytes=image.size_bytes or 0,
        checksum_sha256=image.checksum_sha256,
    )
    driver = SimulatorDriver(settings.simulator_dir)
    await driver.open()
    try:
        for offset in range(0, count, SIMULATOR_BATCH):
            await asyncio.gather(
                *(
                    driver.create_server(
                        ServerSpec(
                            id=row["id"],
                            name=row["name"],
                            vcpus=row["vcpus"],
                            ram_mb=row["ram_mb"],
                            disk_gb=row["disk_gb"],
                            image=image_ref,
                            metadata=row["metadata_"],
                        )
                    )
                    for row in rows[offset : offset + SIMULATOR_BATCH]
                )
            )
    finally:
        await driver.close()
    simulator_s = time.perf_counter() - began
    return SeededServers(
        ids=ids, project_id=project_id, database_s=database_s, simulator_s=simulator_s
    )


def seed_servers(settings: Settings, count: int) -> SeededServers:
    """Write ``count`` servers for a service that has been migrated and seeded but is not
    running (nothing else may write to its database or simulator directory meanwhile)."""
    return asyncio.run(_seed(settings, count))

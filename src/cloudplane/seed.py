"""First start: migrate the schema and seed an empty database.

Seeds an ``admin`` user (password from ``CLOUDPLANE_ADMIN_PASSWORD`` or generated and printed
once), a ``demo`` project with admin as member, the ``m1.*`` flavors and the ``tiny`` image,
which the project builds itself. Seeding happens only when there are no users, so it runs once.
"""

from __future__ import annotations

import secrets
import sys

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.compute.models import Flavor
from cloudplane.identity.models import Membership, Project, Quota, Role, User
from cloudplane.images.models import Image
from cloudplane.images.storage import ImageStore
from cloudplane.images.tiny_image import TINY_IMAGE_NAME, build_tiny_image
from cloudplane.kit.db import new_id, unit_of_work
from cloudplane.kit.logging import get_logger
from cloudplane.kit.migrate import upgrade_to_head
from cloudplane.network.seed import seed_networks
from cloudplane.runtime import Runtime
from cloudplane.storage.seed import seed_storage

log = get_logger(__name__)

SEED_FLAVORS = (
    ("m1.tiny", 1, 512, 1),
    ("m1.small", 1, 2048, 20),
    ("m1.medium", 2, 4096, 40),
    ("m1.large", 4, 8192, 80),
    ("m1.xlarge", 8, 16384, 160),
)


async def prepare_database(runtime: Runtime) -> None:
    """Migrate (when ``auto_migrate``) and seed an empty database. Safe on every start."""
    if runtime.settings.auto_migrate:
        await upgrade_to_head(runtime.engine)
    async with unit_of_work(runtime.sessions, write=True) as session:
        if await session.scalar(select(func.count()).select_from(User)):
            return
        await seed(session, runtime)


async def seed(session: AsyncSession, runtime: Runtime) -> None:
    settings = runtime.settings
    given = settings.admin_password.get_secret_value() if settings.admin_password else None
    password = given or secrets.token_urlsafe(12)
    admin = User(
        id=new_id(), username="admin", is_admin=True, password_hash=runtime.passwords.hash(password)
    )
    demo = Project(id=new_id(), name="demo", description="A project to start with.")
    session.add_all([admin, demo])
    await session.flush()
    session.add_all(
        [
            Membership(project_id=demo.id, user_id=admin.id, role=Role.MEMBER.value),
            Quota(project_id=demo.id),
        ]
    )
    session.add_all(
        Flavor(id=new_id(), name=name, vcpus=vcpus, ram_mb=ram_mb, disk_gb=disk_gb)
        for name, vcpus, ram_mb, disk_gb in SEED_FLAVORS
    )
    await _seed_tiny_image(session, runtime, demo.id)
    await seed_storage(session, runtime)
    await seed_networks(session, demo.id)
    if given is None:
        # Printed once, on the first start only: the operator needs it to log in.
        print(f"cloudplane: created user 'admin' with password: {password}", file=sys.stderr)
    log.info("database_seeded", admin_password_generated=given is None)


async def _seed_tiny_image(session: AsyncSession, runtime: Runtime, project_id: str) -> None:
    image_id = new_id()
    store = ImageStore(runtime.settings.images_dir)
    built = build_tiny_image(store.path_for(image_id))
    session.add(
        Image(
            id=image_id,
            project_id=project_id,
            name=TINY_IMAGE_NAME,
            status="active",
            disk_format="qcow2",
            size_bytes=built.size_bytes,
            checksum_sha256=built.checksum_sha256,
            min_disk_gb=1,
            min_ram_mb=64,
            visibility="public",
        )
    )

"""Imports a backend's own catalogue (an OpenStack cloud's flavors and images) and keeps it so.

Runs at start and then periodically (``catalogue.sync``) for drivers that are a
``CatalogueSource``; the cloud is the authority, so:

- every cloud flavor exists in cloudplane under the same name with the cloud's size (made or
  updated); a flavor no cloud flavor can hold (it could never build) is withdrawn unless live
  servers use it;
- every active cloud image exists in cloudplane under the Glance id, public, owned by the
  catalogue project; an imported image gone from the cloud is withdrawn unless something
  live uses it. Images uploaded to cloudplane are left alone (they go to Glance on first use).

Like ``seed.py`` this spans flavors, images and projects, so it lives beside it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.compute.models import Flavor, Server
from cloudplane.drivers.catalogue_source import CatalogueSource, CloudFlavor, CloudImage
from cloudplane.identity.models import Project, Quota
from cloudplane.images.formats import DiskFormat
from cloudplane.images.models import Image
from cloudplane.images.repository import image_usage
from cloudplane.kit.db import LIVE, new_id, unit_of_work
from cloudplane.kit.logging import get_logger
from cloudplane.runtime import Runtime

log = get_logger(__name__)

_FORMATS = {f.value for f in DiskFormat}


async def sync_catalogue_job(runtime: Runtime) -> None:
    """The periodic form of ``sync_catalogue``."""
    await sync_catalogue(runtime)


async def sync_catalogue(runtime: Runtime) -> dict[str, int]:
    """One import; returns how many flavors and images were added, changed and withdrawn.

    A driver that brings no catalogue leaves everything as it is.
    """
    driver = runtime.driver
    if not isinstance(driver, CatalogueSource):
        return {}
    flavors = await driver.list_cloud_flavors()
    images = await driver.list_cloud_images()
    async with unit_of_work(runtime.sessions, write=True) as session:
        counts = await _sync_flavors(session, flavors)
        project_id = await _catalogue_project(session, runtime.settings.openstack_catalogue_project)
        counts |= await _sync_images(session, project_id, images)
    if any(counts.values()):
        log.info("catalogue_synced", **counts)
    return counts


async def _sync_flavors(session: AsyncSession, cloud: list[CloudFlavor]) -> dict[str, int]:
    live = {
        f.name: f for f in await session.scalars(select(Flavor).where(Flavor.deleted_key == LIVE))
    }
    added = changed = withdrawn = 0
    for flavor in cloud:
        current = live.get(flavor.name)
        size = (flavor.vcpus, flavor.ram_mb, flavor.disk_gb)
        if current is None:
            session.add(
                Flavor(
                    id=new_id(),
                    name=flavor.name[:64],
                    vcpus=flavor.vcpus,
                    ram_mb=flavor.ram_mb,
                    disk_gb=flavor.disk_gb,
                    is_public=flavor.is_public,
                )
            )
            added += 1
        elif (current.vcpus, current.ram_mb, current.disk_gb) != size:
            current.vcpus, current.ram_mb, current.disk_gb = size
            changed += 1
    cloud_names = {f.name for f in cloud}
    for name, current in live.items():
        if name in cloud_names or _fits_some(current, cloud):
            continue
        in_use = await session.scalar(
            select(Server.id).where(Server.flavor_id == current.id, Server.deleted_key == LIVE)
        )
        if in_use is None:
            current.mark_deleted(current.id)
            withdrawn += 1
    await session.flush()
    return {"flavors_added": added, "flavors_changed": changed, "flavors_withdrawn": withdrawn}


def _fits_some(flavor: Flavor, cloud: list[CloudFlavor]) -> bool:
    return any(
        c.vcpus >= flavor.vcpus and c.ram_mb >= flavor.ram_mb and c.disk_gb >= flavor.disk_gb
        for c in cloud
    )


async def _catalogue_project(session: AsyncSession, name: str) -> str:
    project = await session.scalar(
        select(Project).where(Project.name == name, Project.deleted_key == LIVE)
    )
    if project is not None:
        return project.id
    project = Project(id=new_id(), name=name, description="Images imported from the cloud.")
    session.add(project)
    await session.flush()
    session.add(Quota(project_id=project.id))
    await session.flush()
    return project.id


async def _sync_images(
    session: AsyncSession, project_id: str, cloud: list[CloudImage]
) -> dict[str, int]:
    importable = {i.id: i for i in cloud if i.disk_format in _FORMATS}
    existing = {
        i.id: i
        for i in await session.scalars(
            select(Image).where(Image.id.in_(importable), Image.deleted_key == LIVE)
        )
    }
    taken = set(
        await session.scalars(
            select(Image.name).where(Image.project_id == project_id, Image.deleted_key == LIVE)
        )
    )
    added = withdrawn = 0
    for image in importable.values():
        if image.id in existing:
            continue
        # Glance names need not be unique; cloudplane's are, within a project.
        name = image.name[:200] if image.name not in taken else f"{image.name[:200]}-{image.id}"
        taken.add(name)
        session.add(
            Image(
                id=image.id,
                project_id=project_id,
                name=name,
                status="active",
                disk_format=image.disk_format,
                size_bytes=image.size_bytes,
                min_disk_gb=image.min_disk_gb,
                min_ram_mb=image.min_ram_mb,
                visibility="public",
            )
        )
        added += 1
    imported = await session.scalars(
        select(Image).where(Image.project_id == project_id, Image.deleted_key == LIVE)
    )
    for row in imported:
        if row.id in importable or any((await image_usage(session, row.id)).values()):
            continue
        row.status = "deleted"
        row.mark_deleted(row.id)
        withdrawn += 1
    await session.flush()
    return {"images_added": added, "images_withdrawn": withdrawn}

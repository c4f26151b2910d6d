"""Protectable resources: their types, their instances in a project, and what each depends on.

A server depends on its volumes, its image and its networks; a project on all its servers,
volumes and networks; volumes, images and networks depend on nothing. Lookups read the other
features' tables through plain queries and never change them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.compute.models import Server
from cloudplane.identity.models import Project
from cloudplane.images.models import Image
from cloudplane.kit.db import LIVE
from cloudplane.network.models import Network
from cloudplane.network.server_ports import server_ports
from cloudplane.protection.states import ResourceType
from cloudplane.storage.models import Volume
from cloudplane.storage.server_volumes import server_volumes

DEPENDENT_TYPES: dict[ResourceType, tuple[ResourceType, ...]] = {
    ResourceType.SERVER: (ResourceType.VOLUME, ResourceType.IMAGE, ResourceType.NETWORK),
    ResourceType.VOLUME: (),
    ResourceType.IMAGE: (),
    ResourceType.NETWORK: (),
    ResourceType.PROJECT: (ResourceType.SERVER, ResourceType.VOLUME, ResourceType.NETWORK),
}


@dataclass(frozen=True, slots=True)
class ResourceRef:
    type: str
    id: str

    @property
    def key(self) -> str:
        """``Type#id``, the key of per-resource status maps."""
        return f"{self.type.capitalize()}#{self.id}"


@dataclass(slots=True)
class Protectable:
    """One instance: its name, what it depends on, and the metadata needed to rebuild it."""

    ref: ResourceRef
    name: str
    dependencies: list[ResourceRef] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)


async def load(session: AsyncSession, project_id: str, ref: ResourceRef) -> Protectable | None:
    """The live instance ``ref`` of the project (None when missing, deleted or not its)."""
    loader = _LOADERS.get(ref.type)
    return None if loader is None else await loader(session, project_id, ref.id)


async def instances(
    session: AsyncSession, project_id: str, type_: ResourceType
) -> list[Protectable]:
    """Every live instance of ``type_`` in the project, oldest first."""
    ids = await _instance_ids(session, project_id, type_)
    found = [await load(session, project_id, ResourceRef(type_.value, row_id)) for row_id in ids]
    return [item for item in found if item is not None]


async def _instance_ids(
    session: AsyncSession, project_id: str, type_: ResourceType
) -> Sequence[str]:
    if type_ is ResourceType.PROJECT:
        return [project_id]
    if type_ is ResourceType.IMAGE:
        stmt = select(Image.id).where(
            or_(Image.project_id == project_id, Image.visibility == "public"),
            Image.deleted_key == LIVE,
        )
        return (await session.scalars(stmt.order_by(Image.created_at, Image.id))).all()
    model: Any = {
        ResourceType.SERVER: Server,
        ResourceType.VOLUME: Volume,
        ResourceType.NETWORK: Network,
    }[type_]
    stmt = select(model.id).where(model.project_id == project_id, model.deleted_key == LIVE)
    return (await session.scalars(stmt.order_by(model.created_at, model.id))).all()


async def _server(session: AsyncSession, project_id: str, server_id: str) -> Protectable | None:
    server = await session.scalar(
        select(Server).where(
            Server.id == server_id, Server.project_id == project_id, Server.deleted_key == LIVE
        )
    )
    if server is None:
        return None
    volumes = (await server_volumes(session, [server.id]))[server.id]
    ports = await server_ports(session, server.id)
    network_ids = list(dict.fromkeys(port.network_id for port in ports))
    dependencies = [ResourceRef(ResourceType.VOLUME.value, entry["volume_id"]) for entry in volumes]
    if server.image_id is not None:
        dependencies.append(ResourceRef(ResourceType.IMAGE.value, server.image_id))
    dependencies += [ResourceRef(ResourceType.NETWORK.value, net_id) for net_id in network_ids]
    return Protectable(
        ref=ResourceRef(ResourceType.SERVER.value, server.id),
        name=server.name,
        dependencies=dependencies,
        metadata={
            "flavor_id": server.flavor_id,
            "image_id": server.image_id,
            "description": server.description,
            "metadata": dict(server.metadata_),
            "networks": network_ids,
            "volumes": [dict(entry) for entry in volumes],
        },
    )


async def _volume(session: AsyncSession, project_id: str, volume_id: str) -> Protectable | None:
    volume = await session.scalar(
        select(Volume).where(
            Volume.id == volume_id, Volume.project_id == project_id, Volume.deleted_key == LIVE
        )
    )
    if volume is None:
        return None
    return Protectable(
        ref=ResourceRef(ResourceType.VOLUME.value, volume.id),
        name=volume.name,
        metadata={
            "size_gb": volume.size_gb,
            "bootable": volume.bootable,
            "volume_type_id": volume.volume_type_id,
            "image_id": volume.image_id,
            "description": volume.description,
        },
    )


async def _image(session: AsyncSession, project_id: str, image_id: str) -> Protectable | None:
    image = await session.scalar(
        select(Image).where(
            Image.id == image_id,
            or_(Image.project_id == project_id, Image.visibility == "public"),
            Image.deleted_key == LIVE,
        )
    )
    if image is None:
        return None
    return Protectable(
        ref=ResourceRef(ResourceType.IMAGE.value, image.id),
        name=image.name,
        metadata={"disk_format": image.disk_format, "checksum_sha256": image.checksum_sha256},
    )


async def _network(session: AsyncSession, project_id: str, network_id: str) -> Protectable | None:
    network = await session.scalar(
        select(Network).where(
            Network.id == network_id,
            or_(
                Network.project_id == project_id,
                Network.shared.is_(True),
                Network.external.is_(True),
            ),
            Network.deleted_key == LIVE,
        )
    )
    if network is None:
        return None
    return Protectable(
        ref=ResourceRef(ResourceType.NETWORK.value, network.id),
        name=network.name,
        metadata={"cidr": network.cidr},
    )


async def _project(session: AsyncSession, project_id: str, wanted_id: str) -> Protectable | None:
    project = await session.get(Project, wanted_id)
    if project is None or wanted_id != project_id:
        return None
    dependencies: list[ResourceRef] = []
    for type_ in DEPENDENT_TYPES[ResourceType.PROJECT]:
        ids = await _instance_ids(session, project_id, type_)
        dependencies += [ResourceRef(type_.value, row_id) for row_id in ids]
    return Protectable(
        ref=ResourceRef(ResourceType.PROJECT.value, project.id),
        name=project.name,
        dependencies=dependencies,
    )


_LOADERS = {
    ResourceType.SERVER.value: _server,
    ResourceType.VOLUME.value: _volume,
    ResourceType.IMAGE.value: _image,
    ResourceType.NETWORK.value: _network,
    ResourceType.PROJECT.value: _project,
}

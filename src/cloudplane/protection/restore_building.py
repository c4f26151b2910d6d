"""Building the new resources of a restore: volumes with the saved data, then servers.

Each builder records the id of what it made in the restore row in the same transaction that
stores the new resource, so a restore that runs again (a redelivered message, a worker that
died) continues with that resource instead of making a second one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.compute.models import Server
from cloudplane.compute.schemas import ServerCreate
from cloudplane.compute.service import create_server, get_server
from cloudplane.compute.states import ServerStatus
from cloudplane.identity.principal import Principal
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.network.schemas import NetworkRequest
from cloudplane.protection import protectables
from cloudplane.protection.models import Restore
from cloudplane.protection.protectables import ResourceRef
from cloudplane.protection.providers.backup import RestoreOptions
from cloudplane.protection.providers.base import Provider
from cloudplane.protection.states import RunStatus
from cloudplane.runtime import Runtime
from cloudplane.storage import repository as storage_repository
from cloudplane.storage.models import Volume
from cloudplane.storage.schemas import BootVolumeExisting
from cloudplane.storage.server_volumes import attach_volume_request
from cloudplane.storage.service import store_new_volume
from cloudplane.storage.states import VolumeStatus
from cloudplane.storage.tasks import volume_spec_for

_POLL_S = 0.05


class RestoreFailed(Exception):
    """One resource could not be restored; the message says why."""


def restored_name(options: RestoreOptions, name: str, restore_id: str) -> str:
    return f"{options.name_prefix}{name}"[:246] + f"-{restore_id[:8]}"


async def remember_restored(
    session: AsyncSession, restore_id: str, key: str, restored_id: str
) -> None:
    """Record in the in-progress restore that resource ``key`` was restored as ``restored_id``;
    ``RestoreFailed`` when the restore stopped meanwhile."""
    restore = await session.get(Restore, restore_id, with_for_update=True)
    if restore is None or restore.status != RunStatus.IN_PROGRESS.value:
        raise RestoreFailed("the restore stopped meanwhile")
    restore.restored = {**restore.restored, key: restored_id}


async def kept_resource(
    runtime: Runtime, principal: Principal, resource: dict[str, Any], *, when_gone: str = ""
) -> str:
    """A resource restored as itself, not copied (an image, a network, the project; in place,
    a server too): its id while it still exists, else ``RestoreFailed`` (``when_gone`` is
    added to the reason)."""
    async with unit_of_work(runtime.sessions) as session:
        ref = ResourceRef(str(resource["type"]), str(resource["id"]))
        if await protectables.load(session, principal.project_id, ref) is None:
            raise RestoreFailed(f"{ref.type} {ref.id} no longer exists{when_gone}")
    return ref.id


async def restore_volume(
    runtime: Runtime,
    principal: Principal,
    provider: Provider,
    options: RestoreOptions,
    restore_id: str,
    key: str,
    resource: dict[str, Any],
    existing_id: str | None,
) -> str:
    """A new ``available`` volume holding the resource's saved data; returns its id."""
    metadata, saved = resource["metadata"], resource["saved"]
    async with unit_of_work(runtime.sessions, write=True) as session:
        if existing_id is None:
            volume_type = options.volume_type or await _original_type(session, metadata)
            volume = await store_new_volume(
                session,
                runtime,
                principal,
                name=restored_name(options, str(resource["name"]), restore_id),
                description=f"restored from {resource['type']} {resource['id']}",
                size_gb=int(metadata["size_gb"]),
                volume_type=volume_type,
            )
            volume.bootable = bool(metadata["bootable"])
            await session.flush()
            await remember_restored(session, restore_id, key, volume.id)
        else:
            found = await storage_repository.get_volume(session, existing_id)
            if found is None:
                raise RestoreFailed(f"the restored volume {existing_id} is gone")
            volume = found
        if volume.status == VolumeStatus.AVAILABLE.value:
            return volume.id
        if volume.status != VolumeStatus.CREATING.value:
            raise RestoreFailed(f"the restored volume {volume.id} is {volume.status}")
        spec = await volume_spec_for(session, runtime, volume)
    spec = replace(spec, image=None, snapshot_id=provider.restore_source_snapshot(saved))
    try:
        await runtime.driver.create_volume(spec)
        await provider.restore_volume_data(runtime, saved, volume.id)
    except Exception as exc:
        await _volume_status(runtime, volume.id, VolumeStatus.ERROR, str(exc))
        raise
    await _volume_status(runtime, volume.id, VolumeStatus.AVAILABLE, None)
    return volume.id


async def _original_type(session: AsyncSession, metadata: dict[str, Any]) -> str | None:
    """The protected volume's type while it still exists (else None: the default type)."""
    type_id = metadata.get("volume_type_id")
    if not type_id:
        return None
    found = await storage_repository.get_volume_type(session, str(type_id))
    return found.id if found is not None else None


async def _volume_status(
    runtime: Runtime, volume_id: str, status: VolumeStatus, error: str | None
) -> None:
    async with unit_of_work(runtime.sessions, write=True) as session:
        await storage_repository.compare_and_set_volume(
            session,
            volume_id,
            expect={"status": VolumeStatus.CREATING.value},
            values={"status": status.value, "error_message": error[:1024] if error else None},
        )


async def restore_server(
    runtime: Runtime,
    principal: Principal,
    options: RestoreOptions,
    restore_id: str,
    key: str,
    resource: dict[str, Any],
    restored_volumes: dict[str, str],
    existing_id: str | None,
) -> str:
    """A new server with the flavor, networks and restored volumes of the saved one."""
    metadata = resource["metadata"]
    volumes = sorted(metadata["volumes"], key=lambda entry: (not entry["boot"], entry["device"]))
    missing = [
        entry["volume_id"] for entry in volumes if entry["volume_id"] not in restored_volumes
    ]
    if missing:
        raise RestoreFailed(f"its volumes {', '.join(missing)} were not restored")
    boot = next((entry for entry in volumes if entry["boot"]), None)
    server_id = existing_id
    if server_id is None:
        networks = [options.network_id] if options.network_id else list(metadata["networks"])
        body = ServerCreate(
            name=restored_name(options, str(resource["name"]), restore_id),
            description=f"restored from server {resource['id']}",
            flavor_id=str(metadata["flavor_id"]),
            image_id=None if boot else metadata["image_id"],
            boot_volume=BootVolumeExisting(volume_id=restored_volumes[boot["volume_id"]])
            if boot
            else None,
            networks=[NetworkRequest(network_id=network_id) for network_id in networks],
            metadata=dict(metadata.get("metadata") or {}),
        )
        async with unit_of_work(runtime.sessions, write=True) as session:
            server, _ = await create_server(session, runtime, principal, body)
            await remember_restored(session, restore_id, key, server.id)
            server_id = server.id
    status = await _wait_for(
        runtime,
        lambda session: _server_status(session, server_id),
        settled=lambda value: value in (ServerStatus.ACTIVE.value, ServerStatus.ERROR.value),
    )
    if status != ServerStatus.ACTIVE.value:
        raise RestoreFailed(f"the restored server {server_id} is {status}")
    for entry in volumes:
        if not entry["boot"]:
            await _attach(
                runtime, principal, server_id, restored_volumes[entry["volume_id"]], entry
            )
    return server_id


async def _attach(
    runtime: Runtime, principal: Principal, server_id: str, volume_id: str, entry: dict[str, Any]
) -> None:
    async with unit_of_work(runtime.sessions) as session:
        current = await _volume_status_of(session, volume_id)
    if current == VolumeStatus.AVAILABLE.value:
        async with unit_of_work(runtime.sessions, write=True) as session:
            server = await get_server(session, principal, server_id)
            await attach_volume_request(
                session, runtime, principal, server, volume_id, str(entry["device"])
            )
    status = await _wait_for(
        runtime,
        lambda session: _volume_status_of(session, volume_id),
        settled=lambda value: value not in (VolumeStatus.ATTACHING.value,),
    )
    if status != VolumeStatus.IN_USE.value:
        raise RestoreFailed(f"restored volume {volume_id} did not attach (it is {status})")


async def _server_status(session: AsyncSession, server_id: str) -> str | None:
    status: str | None = await session.scalar(select(Server.status).where(Server.id == server_id))
    return status


async def _volume_status_of(session: AsyncSession, volume_id: str) -> str | None:
    status: str | None = await session.scalar(select(Volume.status).where(Volume.id == volume_id))
    return status


async def _wait_for(
    runtime: Runtime,
    read: Callable[[AsyncSession], Any],
    *,
    settled: Callable[[str | None], bool],
) -> str | None:
    """Poll ``read`` until ``settled`` says so, within the operation deadline."""
    deadline = utcnow().timestamp() + runtime.settings.operation_deadline_s
    while True:
        async with unit_of_work(runtime.sessions) as session:
            value: str | None = await read(session)
        if value is None or settled(value):
            return value
        if utcnow().timestamp() > deadline:
            raise RestoreFailed(f"gave up waiting (still {value})")
        await asyncio.sleep(_POLL_S)

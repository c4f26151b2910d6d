"""Restoring in place: the saved data written back into the protected volumes themselves.

Each volume must still exist and be at least as large as when it was saved, and be ``available``
(as a Cinder backup restores onto an existing volume) or attached to a server that is stopped
(as Proxmox restores a stopped VM's disks): a disk is never rewritten under a running guest. The
volume moves to ``restoring`` by compare-and-set, in the transaction that records it in the
restore's ``restored`` map, and its server, if any, gets ``task_state: restoring_volume``:
nothing else (an attach, a delete, another restore, starting the server) can take them
meanwhile, and a restore that runs again (a redelivered message, a worker that died) knows the
volume is its own and writes the data again. The provider checks the saved data whole before it
writes. After the write (or a failed check) the volume is back to ``available`` or ``in-use``
and the server is free; when the write failed part-way, or the restore was given up, the volume
is ``error``, since its data may be half old and half new, and its server stays held until an
administrator resets it.

Servers, images, networks and the project are not rewritten: they restore when they still exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.compute import repository as compute_repository
from cloudplane.compute.states import ServerStatus, TaskState
from cloudplane.drivers.errors import DriverError
from cloudplane.identity.principal import Principal
from cloudplane.kit.db import unit_of_work
from cloudplane.protection.models import Restore
from cloudplane.protection.protectables import ResourceRef
from cloudplane.protection.providers.base import Provider, SavedDataNotWhole
from cloudplane.protection.restore_building import (
    RestoreFailed,
    kept_resource,
    remember_restored,
)
from cloudplane.protection.states import ResourceType
from cloudplane.runtime import Runtime
from cloudplane.storage import repository as storage_repository
from cloudplane.storage.models import Volume
from cloudplane.storage.states import VolumeStatus

_RESTORABLE_FROM = frozenset({VolumeStatus.AVAILABLE.value, VolumeStatus.IN_USE.value})

_REFUSED_BEFORE_WRITING = frozenset({"too_small", "in_use"})
"""``import_volume`` failures that the driver contract raises before it writes anything."""

_STOPPED_HALFWAY = "the restore in place stopped before it finished; the data may be partly old"


async def restore_in_place(
    runtime: Runtime,
    principal: Principal,
    provider: Provider,
    restore_id: str,
    key: str,
    resource: dict[str, Any],
    owned_id: str | None,
) -> str:
    """Restore one checkpoint resource in place; returns the id restored into.

    ``owned_id`` is what an earlier run of this restore recorded for the resource, if any.
    """
    if resource["type"] == ResourceType.VOLUME.value:
        return await _restore_volume(
            runtime, principal, provider, restore_id, key, resource, owned_id
        )
    return await kept_resource(runtime, principal, resource, when_gone="; restore to new resources")


async def _restore_volume(
    runtime: Runtime,
    principal: Principal,
    provider: Provider,
    restore_id: str,
    key: str,
    resource: dict[str, Any],
    owned_id: str | None,
) -> str:
    volume_id, saved = str(resource["id"]), resource["saved"]
    async with unit_of_work(runtime.sessions, write=True) as session:
        volume, server_id = await _lock_server_then_volume(session, volume_id)
        if volume is None or volume.project_id != principal.project_id:
            raise RestoreFailed(f"volume {volume_id} no longer exists; restore to new resources")
        rerun = owned_id == volume_id and volume.status == VolumeStatus.RESTORING.value
        if not rerun:
            _check_restorable(volume, int(resource["metadata"]["size_gb"]))
            if server_id is not None:
                await _hold_server(session, server_id, volume_id)
            taken = await storage_repository.compare_and_set_volume(
                session,
                volume_id,
                expect={"status": volume.status},
                values={"status": VolumeStatus.RESTORING.value, "error_message": None},
            )
            if not taken:
                raise RestoreFailed(f"volume {volume_id} changed while it was being taken")
            await remember_restored(session, restore_id, key, volume_id)
    try:
        await provider.restore_volume_data(runtime, saved, volume_id)
    except SavedDataNotWhole as exc:
        await _give_back(runtime, volume_id, server_id, None)
        raise RestoreFailed(str(exc)) from exc
    except DriverError as exc:
        untouched = exc.code in _REFUSED_BEFORE_WRITING
        await _give_back(runtime, volume_id, server_id, None if untouched else str(exc))
        raise RestoreFailed(f"volume {volume_id}: {exc}") from exc
    except Exception as exc:
        await _give_back(runtime, volume_id, server_id, str(exc) or type(exc).__name__)
        raise
    await _give_back(runtime, volume_id, server_id, None)
    return volume_id


async def _lock_server_then_volume(
    session: AsyncSession, volume_id: str
) -> tuple[Volume | None, str | None]:
    """Lock the row of the server the volume is attached to, if any, then the volume's row;
    returns the live volume and that server's id.

    A server's delete and a volume's attach lock the server first, then the volume: in that
    order a restore racing either waits for it, where the other order could deadlock with it.
    """
    attachment = await storage_repository.get_attachment(session, volume_id)
    server_id = attachment.server_id if attachment is not None else None
    if server_id is not None:
        await compute_repository.lock_server_row(session, server_id)
    volume = await storage_repository.get_volume(session, volume_id, for_update=True)
    attachment = await storage_repository.get_attachment(session, volume_id)
    if (attachment.server_id if attachment is not None else None) != server_id:
        raise RestoreFailed(f"volume {volume_id} was attached or detached while being taken")
    return volume, server_id


def _check_restorable(volume: Volume, saved_size_gb: int) -> None:
    if volume.status not in _RESTORABLE_FROM:
        raise RestoreFailed(
            f"volume {volume.id} is {volume.status}; a restore in place needs it available, "
            "or in-use by a stopped server"
        )
    if volume.size_gb < saved_size_gb:
        raise RestoreFailed(
            f"volume {volume.id} is {volume.size_gb} GB, smaller than the {saved_size_gb} GB saved"
        )


async def _hold_server(session: AsyncSession, server_id: str, volume_id: str) -> None:
    """Keep the volume's server shut off while its disk is rewritten: a ``SHUTOFF`` server with
    nothing in flight gets ``task_state: restoring_volume``, so starting it is 409 meanwhile."""
    held = await compute_repository.compare_and_set(
        session,
        server_id,
        expect={"status": ServerStatus.SHUTOFF.value, "task_state": None},
        values={"task_state": TaskState.RESTORING_VOLUME.value},
    )
    if held:
        return
    server = await compute_repository.get_any_server(session, server_id)
    now = "gone" if server is None else server.status
    if server is not None and server.task_state is not None:
        now = f"{server.status} with {server.task_state} in progress"
    raise RestoreFailed(
        f"volume {volume_id} is in-use by server {server_id}, which is {now}; a restore in "
        "place rewrites the volumes of a stopped (SHUTOFF) server only"
    )


async def _give_back(
    runtime: Runtime, volume_id: str, server_id: str | None, error: str | None
) -> None:
    """``restoring →`` ``in-use`` (attached) or ``available``, and the server is free again;
    or, when the data may be mixed, ``error`` with ``error``, and the server stays held.

    A server whose disk may be half written is not started by accident: an administrator
    looks, then frees it (``POST /servers/{id}/reset-state``) or deletes it.
    """
    settled = VolumeStatus.IN_USE if server_id is not None else VolumeStatus.AVAILABLE
    async with unit_of_work(runtime.sessions, write=True) as session:
        if server_id is not None:
            await compute_repository.lock_server_row(session, server_id)  # server, then volume
        given_back = await storage_repository.compare_and_set_volume(
            session,
            volume_id,
            expect={"status": VolumeStatus.RESTORING.value},
            values={
                "status": VolumeStatus.ERROR.value if error else settled.value,
                "error_message": error[:1024] if error else None,
            },
        )
        if server_id is not None and given_back and not error:
            await compute_repository.compare_and_set(
                session,
                server_id,
                expect={"task_state": TaskState.RESTORING_VOLUME.value},
                values={"task_state": None},
            )


async def abandon_restoring_volumes(session: AsyncSession, restore: Restore) -> None:
    """Mark ``error`` the volumes a restore in place took and never gave back (it was given up
    on part-way, so their data may be partly old). Their servers stay held, as after a failed
    write: a worker may even be writing still."""
    if restore.target != "in_place":
        return
    volume_prefix = ResourceRef(ResourceType.VOLUME.value, "").key
    for key, volume_id in restore.restored.items():
        if key.startswith(volume_prefix):
            await storage_repository.compare_and_set_volume(
                session,
                volume_id,
                expect={"status": VolumeStatus.RESTORING.value},
                values={"status": VolumeStatus.ERROR.value, "error_message": _STOPPED_HALFWAY},
            )

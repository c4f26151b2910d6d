"""Restoring in place: the saved data written back into the protected volumes themselves.

As with a Cinder backup restored onto an existing volume, each volume must still exist, be
``available`` (a server's disk is not rewritten under it: detach it first) and be at least as
large as when it was saved. The saved data is checked whole before the volume is touched. The
volume then moves ``available → restoring`` by compare-and-set, in the transaction that records
it in the restore's ``restored`` map: nothing else (an attach, a delete, another restore) can take
it meanwhile, and a restore that runs again (a redelivered message, a worker that died) knows the
volume is its own and writes the data again. After the write the volume is ``available``; when
the write failed part-way it is ``error``, since its data may be half old and half new.

Servers, images, networks and the project are not rewritten: they restore when they still exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.drivers.errors import DriverError
from cloudplane.identity.principal import Principal
from cloudplane.kit.db import unit_of_work
from cloudplane.protection import protectables
from cloudplane.protection.models import Restore
from cloudplane.protection.protectables import ResourceRef
from cloudplane.protection.providers.base import Provider
from cloudplane.protection.restore_building import RestoreFailed, remember_restored
from cloudplane.protection.states import ResourceType
from cloudplane.runtime import Runtime
from cloudplane.storage import repository as storage_repository
from cloudplane.storage.models import Volume
from cloudplane.storage.states import VolumeStatus

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
    async with unit_of_work(runtime.sessions) as session:
        ref = ResourceRef(str(resource["type"]), str(resource["id"]))
        if await protectables.load(session, principal.project_id, ref) is None:
            raise RestoreFailed(
                f"{resource['type']} {resource['id']} no longer exists; restore to new resources"
            )
    return str(resource["id"])


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
    reason = await provider.verify_volume(runtime, saved)
    if reason is not None:
        raise RestoreFailed(f"the saved data is not whole: {reason}")
    async with unit_of_work(runtime.sessions, write=True) as session:
        volume = await storage_repository.get_volume(session, volume_id, for_update=True)
        if volume is None or volume.project_id != principal.project_id:
            raise RestoreFailed(f"volume {volume_id} no longer exists; restore to new resources")
        rerun = owned_id == volume_id and volume.status == VolumeStatus.RESTORING.value
        if not rerun:
            _check_restorable(volume, int(resource["metadata"]["size_gb"]))
            taken = await storage_repository.compare_and_set_volume(
                session,
                volume_id,
                expect={"status": VolumeStatus.AVAILABLE.value},
                values={"status": VolumeStatus.RESTORING.value, "error_message": None},
            )
            if not taken:
                raise RestoreFailed(f"volume {volume_id} changed while it was being taken")
            await remember_restored(session, restore_id, key, volume_id)
    try:
        await provider.restore_volume_data(runtime, saved, volume_id)
    except DriverError as exc:
        untouched = exc.code in _REFUSED_BEFORE_WRITING
        await _leave_restoring(runtime, volume_id, None if untouched else str(exc))
        raise RestoreFailed(f"volume {volume_id}: {exc}") from exc
    except Exception as exc:
        await _leave_restoring(runtime, volume_id, str(exc) or type(exc).__name__)
        raise
    await _leave_restoring(runtime, volume_id, None)
    return volume_id


def _check_restorable(volume: Volume, saved_size_gb: int) -> None:
    if volume.status != VolumeStatus.AVAILABLE.value:
        raise RestoreFailed(
            f"volume {volume.id} is {volume.status}; a restore in place needs it available "
            "(detached)"
        )
    if volume.size_gb < saved_size_gb:
        raise RestoreFailed(
            f"volume {volume.id} is {volume.size_gb} GB, smaller than the {saved_size_gb} GB saved"
        )


async def _leave_restoring(runtime: Runtime, volume_id: str, error: str | None) -> None:
    """``restoring → available``, or ``→ error`` with ``error`` when the data may be mixed."""
    async with unit_of_work(runtime.sessions, write=True) as session:
        await storage_repository.compare_and_set_volume(
            session,
            volume_id,
            expect={"status": VolumeStatus.RESTORING.value},
            values={
                "status": VolumeStatus.ERROR.value if error else VolumeStatus.AVAILABLE.value,
                "error_message": error[:1024] if error else None,
            },
        )


async def abandon_restoring_volumes(session: AsyncSession, restore: Restore) -> None:
    """Mark ``error`` the volumes a restore in place took and never gave back (it was given up
    on part-way, so their data may be partly old)."""
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

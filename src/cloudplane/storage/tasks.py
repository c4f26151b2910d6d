"""Worker-side volume operations: call the driver, then record the outcome.

Each handler reloads the volume, does the backend call (idempotent by the volume's id), and
writes the final state with a compare-and-set on ``status``. When that compare fails, someone
else took the volume meanwhile (a deadline failed it, a server delete released it): the handler
finishes its operation without touching the volume, and a create removes what it built.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.drivers.storage_contract import VolumeSpec
from cloudplane.images.models import Image
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.operations.handlers import HandlerRegistry
from cloudplane.operations.models import Operation
from cloudplane.operations.service import finish_operation, record_event
from cloudplane.runtime import Runtime
from cloudplane.storage import repository
from cloudplane.storage.attachment_tasks import AttachVolume, DetachVolume, delete_attachment
from cloudplane.storage.image_sources import image_source
from cloudplane.storage.models import Volume
from cloudplane.storage.snapshot_tasks import CreateSnapshot, DeleteSnapshot
from cloudplane.storage.states import SnapshotAction, VolumeAction, VolumeStatus

VOLUME = "volume"
SNAPSHOT = "snapshot"


def register_storage_handlers(registry: HandlerRegistry) -> None:
    """Register the handlers of every volume and snapshot operation."""
    registry.register(VOLUME, VolumeAction.CREATE.value, CreateVolume())
    registry.register(VOLUME, VolumeAction.EXTEND.value, ExtendVolume())
    registry.register(VOLUME, VolumeAction.DELETE.value, DeleteVolume())
    registry.register(VOLUME, VolumeAction.ATTACH.value, AttachVolume())
    registry.register(VOLUME, VolumeAction.DETACH.value, DetachVolume())
    registry.register(SNAPSHOT, SnapshotAction.CREATE.value, CreateSnapshot())
    registry.register(SNAPSHOT, SnapshotAction.DELETE.value, DeleteSnapshot())


def failed(reason: str) -> dict[str, Any]:
    return {"status": VolumeStatus.ERROR.value, "error_message": reason[:1024]}


async def finish(runtime: Runtime, operation: Operation, error: str | None = None) -> None:
    async with unit_of_work(runtime.sessions, write=True) as session:
        await finish_operation(session, operation.id, error=error)


async def volume_spec_for(session: AsyncSession, runtime: Runtime, volume: Volume) -> VolumeSpec:
    """What the driver needs to build ``volume``: its pool's path and its source."""
    pool = await repository.get_pool(session, volume.storage_pool_id, include_deleted=True)
    image = await session.get(Image, volume.image_id) if volume.image_id else None
    return VolumeSpec(
        id=volume.id,
        name=volume.name,
        size_gb=volume.size_gb,
        pool_path=pool.path if pool is not None else "",
        image=await image_source(runtime, image) if image and not volume.snapshot_id else None,
        snapshot_id=volume.snapshot_id,
    )


class CreateVolume:
    async def run(self, runtime: Runtime, operation: Operation) -> None:
        async with unit_of_work(runtime.sessions) as session:
            volume = await repository.get_volume(session, operation.resource_id)
            creating = volume is not None and volume.status == VolumeStatus.CREATING.value
            spec = await volume_spec_for(session, runtime, volume) if volume and creating else None
        if spec is None:
            await finish(runtime, operation, "the volume is no longer being created")
            return
        await runtime.driver.create_volume(spec)
        async with unit_of_work(runtime.sessions, write=True) as session:
            built = await repository.compare_and_set_volume(
                session,
                spec.id,
                expect={"status": VolumeStatus.CREATING.value},
                values={"status": VolumeStatus.AVAILABLE.value, "error_message": None},
            )
            if built:
                record_event(session, operation.id, f"volume of {spec.size_gb} GB created")
                await finish_operation(session, operation.id)
                return
        # Failed (by its deadline) while the backend worked: remove what was built.
        await runtime.driver.delete_volume(spec.id)
        await finish(runtime, operation, "the volume stopped being created meanwhile")

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        async with unit_of_work(runtime.sessions, write=True) as session:
            await repository.compare_and_set_volume(
                session,
                operation.resource_id,
                expect={"status": VolumeStatus.CREATING.value},
                values=failed(reason),
            )
            await finish_operation(session, operation.id, error=reason)


class ExtendVolume:
    """Grows the volume to ``params["to_gb"]`` and returns it to the status it had."""

    async def run(self, runtime: Runtime, operation: Operation) -> None:
        to_gb = int(operation.params["to_gb"])
        async with unit_of_work(runtime.sessions) as session:
            volume = await repository.get_volume(session, operation.resource_id)
        if volume is None or volume.status != VolumeStatus.EXTENDING.value:
            await finish(runtime, operation, "the volume is no longer being extended")
            return
        await runtime.driver.extend_volume(volume.id, to_gb)
        async with unit_of_work(runtime.sessions, write=True) as session:
            done = await repository.compare_and_set_volume(
                session,
                volume.id,
                expect={"status": VolumeStatus.EXTENDING.value, "size_gb": to_gb},
                values={
                    "status": volume.status_before or VolumeStatus.AVAILABLE.value,
                    "status_before": None,
                },
            )
            await finish_operation(
                session, operation.id, error=None if done else "the volume changed meanwhile"
            )

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        # The backend did not grow it: give the space back to the quota and the pool.
        async with unit_of_work(runtime.sessions, write=True) as session:
            await repository.compare_and_set_volume(
                session,
                operation.resource_id,
                expect={"status": VolumeStatus.EXTENDING.value},
                values={
                    **failed(f"extend failed: {reason}"),
                    "size_gb": int(operation.params["from_gb"]),
                    "status_before": None,
                },
            )
            await finish_operation(session, operation.id, error=reason)


class DeleteVolume:
    """Detaches the volume if a server still holds it (a server's own boot volume), deletes it
    on the backend, then marks the row deleted."""

    async def run(self, runtime: Runtime, operation: Operation) -> None:
        async with unit_of_work(runtime.sessions) as session:
            volume = await repository.get_volume(session, operation.resource_id)
            attachment = await repository.get_attachment(session, operation.resource_id)
        if volume is None or volume.status != VolumeStatus.DELETING.value:
            await finish(runtime, operation, "the volume is no longer being deleted")
            return
        if attachment is not None:
            await runtime.driver.detach_volume(attachment.server_id, volume.id)
        await runtime.driver.delete_volume(volume.id)
        async with unit_of_work(runtime.sessions, write=True) as session:
            await delete_attachment(session, volume.id)
            await repository.compare_and_set_volume(
                session,
                volume.id,
                expect={"status": VolumeStatus.DELETING.value},
                values={
                    "status": VolumeStatus.DELETED.value,
                    "deleted_at": utcnow(),
                    "deleted_key": volume.id,
                },
            )
            await finish_operation(session, operation.id)

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        async with unit_of_work(runtime.sessions, write=True) as session:
            await repository.compare_and_set_volume(
                session,
                operation.resource_id,
                expect={"status": VolumeStatus.DELETING.value},
                values=failed(f"delete failed: {reason}"),
            )
            await finish_operation(session, operation.id, error=reason)

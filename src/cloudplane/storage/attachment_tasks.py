"""Worker-side attach and detach of data volumes.

The attachment row exists from the request on (it reserves the volume and the device); attach
moves the volume ``attaching → in-use``, detach ``detaching → available`` and removes the row.
A failed attach gives the volume back (``available``, the reason in ``error``); a failed detach
leaves it ``in-use`` (it most likely still is) with the reason, so the detach can be retried.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.kit.db import unit_of_work
from cloudplane.kit.logging import get_logger
from cloudplane.operations.models import Operation
from cloudplane.operations.service import finish_operation
from cloudplane.runtime import Runtime
from cloudplane.storage import repository
from cloudplane.storage.models import VolumeAttachment
from cloudplane.storage.states import VolumeStatus

log = get_logger(__name__)


async def delete_attachment(session: AsyncSession, volume_id: str) -> None:
    await session.execute(delete(VolumeAttachment).where(VolumeAttachment.volume_id == volume_id))


async def _finish(runtime: Runtime, operation: Operation, error: str | None = None) -> None:
    async with unit_of_work(runtime.sessions, write=True) as session:
        await finish_operation(session, operation.id, error=error)


class AttachVolume:
    async def run(self, runtime: Runtime, operation: Operation) -> None:
        async with unit_of_work(runtime.sessions) as session:
            volume = await repository.get_volume(session, operation.resource_id)
            attachment = await repository.get_attachment(session, operation.resource_id)
        if volume is None or attachment is None or volume.status != VolumeStatus.ATTACHING.value:
            await _finish(runtime, operation, "the volume is no longer being attached")
            return
        await runtime.driver.attach_volume(attachment.server_id, volume.id, attachment.device)
        async with unit_of_work(runtime.sessions, write=True) as session:
            attached = await repository.compare_and_set_volume(
                session,
                volume.id,
                expect={"status": VolumeStatus.ATTACHING.value},
                values={"status": VolumeStatus.IN_USE.value, "error_message": None},
            )
            # Not attached: a server delete released the volume meanwhile and detaches it.
            await finish_operation(
                session, operation.id, error=None if attached else "the volume was released"
            )

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        async with unit_of_work(runtime.sessions) as session:
            attachment = await repository.get_attachment(session, operation.resource_id)
        if attachment is not None:
            try:
                # The backend may have attached it before the failure was noticed.
                await runtime.driver.detach_volume(attachment.server_id, operation.resource_id)
            except Exception as exc:  # the volume stays reserved; the sweep looks again
                log.warning(
                    "volume_attach_rollback_failed", volume_id=operation.resource_id, error=str(exc)
                )
        async with unit_of_work(runtime.sessions, write=True) as session:
            released = await repository.compare_and_set_volume(
                session,
                operation.resource_id,
                expect={"status": VolumeStatus.ATTACHING.value},
                values={
                    "status": VolumeStatus.AVAILABLE.value,
                    "error_message": f"attach failed: {reason}"[:1024],
                },
            )
            if released:
                await delete_attachment(session, operation.resource_id)
            await finish_operation(session, operation.id, error=reason)


class DetachVolume:
    async def run(self, runtime: Runtime, operation: Operation) -> None:
        async with unit_of_work(runtime.sessions) as session:
            volume = await repository.get_volume(session, operation.resource_id)
            attachment = await repository.get_attachment(session, operation.resource_id)
        if volume is None or volume.status != VolumeStatus.DETACHING.value:
            await _finish(runtime, operation, "the volume is no longer being detached")
            return
        if attachment is not None:
            await runtime.driver.detach_volume(attachment.server_id, volume.id)
        async with unit_of_work(runtime.sessions, write=True) as session:
            detached = await repository.compare_and_set_volume(
                session,
                volume.id,
                expect={"status": VolumeStatus.DETACHING.value},
                values={"status": VolumeStatus.AVAILABLE.value, "error_message": None},
            )
            if detached:
                await delete_attachment(session, volume.id)
            await finish_operation(
                session, operation.id, error=None if detached else "the volume changed meanwhile"
            )

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        async with unit_of_work(runtime.sessions, write=True) as session:
            await repository.compare_and_set_volume(
                session,
                operation.resource_id,
                expect={"status": VolumeStatus.DETACHING.value},
                values={
                    "status": VolumeStatus.IN_USE.value,
                    "error_message": f"detach failed: {reason}"[:1024],
                },
            )
            await finish_operation(session, operation.id, error=reason)

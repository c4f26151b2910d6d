"""The worker side of servers and volumes: before a server is built, after, and when it goes.

Compute's create handler reads the plan with ``plan_server_volumes`` in the transaction that
reads the rest of its build, calls ``build_planned_volumes`` before ``driver.create_server`` (it
builds a new boot volume on the backend and returns the block devices) and
``finish_server_volumes`` after (attached volumes become ``in-use``; on failure they are given
back). Compute's delete calls ``release_server_volumes``, which starts one operation per volume.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.drivers.storage_contract import BlockDeviceSpec, VolumeSpec
from cloudplane.kit.db import LIVE, unit_of_work
from cloudplane.kit.logging import get_logger
from cloudplane.operations.service import start_operation
from cloudplane.runtime import Runtime
from cloudplane.storage import repository
from cloudplane.storage.attachment_tasks import delete_attachment
from cloudplane.storage.models import Snapshot, Volume
from cloudplane.storage.server_volumes import ServerVolumeEntry, block_devices_for, server_volumes
from cloudplane.storage.states import VolumeAction, VolumeStatus
from cloudplane.storage.tasks import volume_spec_for

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ServerVolumePlan:
    """A server's volumes as its build found them: its entries and the volumes to build."""

    entries: Sequence[ServerVolumeEntry]
    to_build: Sequence[VolumeSpec]

    @property
    def block_devices(self) -> tuple[BlockDeviceSpec, ...]:
        """The server's ``ServerSpec.block_devices``, boot volume first."""
        return block_devices_for(self.entries)


async def plan_server_volumes(
    session: AsyncSession, runtime: Runtime, server_id: str
) -> ServerVolumePlan:
    """Read what ``build_planned_volumes`` needs, in the caller's transaction: the server's
    volume entries and the specs of the boot volume its create reserved (``creating``)."""
    entries = (await server_volumes(session, [server_id]))[server_id]
    if not entries:
        return ServerVolumePlan(entries=(), to_build=())
    to_build = [
        await volume_spec_for(session, runtime, volume)
        for volume in await _volumes_of(session, [e["volume_id"] for e in entries])
        if volume.status == VolumeStatus.CREATING.value and volume.owner_server_id == server_id
    ]
    return ServerVolumePlan(entries=tuple(entries), to_build=tuple(to_build))


async def build_planned_volumes(
    runtime: Runtime, plan: ServerVolumePlan
) -> tuple[BlockDeviceSpec, ...]:
    """Build the planned volumes on the backend (``creating`` → ``attaching``) and return the
    server's block devices, boot volume first.

    Idempotent: the backend calls are by id and each state change a compare-and-set. Raises
    what the driver raises; the caller's failure path then calls
    ``finish_server_volumes(built=False)``.
    """
    for spec in plan.to_build:
        await runtime.driver.create_volume(spec)
        async with unit_of_work(runtime.sessions, write=True) as session:
            await repository.compare_and_set_volume(
                session,
                spec.id,
                expect={"status": VolumeStatus.CREATING.value},
                values={"status": VolumeStatus.ATTACHING.value},
            )
    return plan.block_devices


async def finish_server_volumes(runtime: Runtime, server_id: str, *, built: bool) -> None:
    """After the driver built the server (``built``): its ``attaching`` volumes are attached
    on the backend (a no-op where create_server attached them) and become ``in-use``.

    After a failed build: a volume the server brought (``{volume_id}``) is detached and
    ``available`` again; the boot volume it created stays attached, in ``error``, and goes with
    the server when it is deleted.
    """
    async with unit_of_work(runtime.sessions) as session:
        attachments = await repository.attachments_of_servers(session, [server_id])
        volumes = {v.id: v for v in await _volumes_of(session, [a.volume_id for a in attachments])}
    for attachment in attachments:
        volume = volumes.get(attachment.volume_id)
        if volume is None or volume.status not in (
            VolumeStatus.CREATING.value,
            VolumeStatus.ATTACHING.value,
        ):
            continue
        if built:
            await runtime.driver.attach_volume(server_id, volume.id, attachment.device)
            values = {"status": VolumeStatus.IN_USE.value, "error_message": None}
        elif volume.owner_server_id == server_id:
            values = {"status": VolumeStatus.ERROR.value, "error_message": "the server failed"}
        else:
            await runtime.driver.detach_volume(server_id, volume.id)
            values = {"status": VolumeStatus.AVAILABLE.value}
        async with unit_of_work(runtime.sessions, write=True) as session:
            changed = await repository.compare_and_set_volume(
                session, volume.id, expect={"status": volume.status}, values=values
            )
            if changed and values["status"] == VolumeStatus.AVAILABLE.value:
                await delete_attachment(session, volume.id)


async def release_server_volumes(
    session: AsyncSession, runtime: Runtime, server_id: str
) -> list[str]:
    """Let go of a deleted server's volumes; returns the ids of the volumes released.

    Call it in the transaction that marks the server deleted (compute's delete handler, after
    ``driver.delete_server``). It does no backend work itself: it starts one operation per
    volume, run after commit. The boot volume the server created (``delete_on_termination``)
    gets a ``delete`` (which detaches it first); every other attached volume a ``detach``, and
    is ``available`` afterwards. An owned volume with live snapshots is kept and detached
    instead (deleting it would lose them). Volumes busy with another operation are left to
    the attachment sweep, which finishes the job once they settle.
    """
    attachments = await repository.attachments_of_servers(session, [server_id])
    owned_rows = await session.scalars(
        select(Volume).where(Volume.owner_server_id == server_id, Volume.deleted_key == LIVE)
    )
    owned = {volume.id for volume in owned_rows}
    released: list[str] = []
    for volume_id in sorted(owned | {a.volume_id for a in attachments}):
        if await release_volume(session, runtime, volume_id, server_id):
            released.append(volume_id)
    return released


async def release_volume(
    session: AsyncSession, runtime: Runtime, volume_id: str, server_id: str
) -> str | None:
    """Start deleting (server-owned) or detaching one volume of a gone server; the action
    started, or None when the volume is busy and was left alone."""
    volume = await repository.get_volume(session, volume_id, for_update=True)
    if volume is None:
        return None
    has_snapshots = await repository.count_live(session, Snapshot.volume_id, volume_id, Snapshot)
    if volume.owner_server_id == server_id and not has_snapshots:
        action = VolumeAction.DELETE
        # A volume being restored in place is busy: the attachment sweep deletes it after.
        expect = {
            s.value
            for s in VolumeStatus
            if s not in (VolumeStatus.DELETING, VolumeStatus.RESTORING)
        }
        target = VolumeStatus.DELETING
    else:
        action = VolumeAction.DETACH
        # ``available`` with an attachment row is a leftover of an earlier crash: detaching
        # (idempotent on the backend) removes the row.
        expect = {
            VolumeStatus.IN_USE.value,
            VolumeStatus.ATTACHING.value,
            VolumeStatus.ERROR.value,
            VolumeStatus.AVAILABLE.value,
        }
        target = VolumeStatus.DETACHING
    values: dict[str, str | None] = {"status": target.value}
    if action is VolumeAction.DETACH:
        values["owner_server_id"] = None  # kept for its snapshots: no longer the server's
    changed = await repository.compare_and_set_volume(
        session, volume_id, expect={"status": expect}, values=values
    )
    if not changed:
        return None
    operation = await start_operation(
        session,
        runtime,
        None,
        action=action.value,
        resource_type="volume",
        resource_id=volume_id,
        params={"server_id": server_id, "reason": "server deleted"},
    )
    # The server's delete is the cause, but the volume's project is the one to show it to.
    operation.project_id = volume.project_id
    log.info("volume_released", volume_id=volume_id, server_id=server_id, action=action.value)
    return action.value


async def _volumes_of(session: AsyncSession, volume_ids: list[str]) -> list[Volume]:
    if not volume_ids:
        return []
    rows = await session.scalars(
        select(Volume).where(Volume.id.in_(volume_ids), Volume.deleted_key == LIVE)
    )
    return list(rows)

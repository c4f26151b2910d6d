"""Servers and volumes together: what compute calls for boot volumes, attach and detach, the
``volumes`` of a server body, and releasing volumes when a server goes.

Request side (inside the API request's transaction): ``reserve_boot_volume``,
``attach_volume_request``, ``detach_volume_request``, ``server_volumes``. Worker side (in
``server_volume_lifecycle``): ``plan_server_volumes`` and ``build_planned_volumes`` before the
driver builds a server, ``finish_server_volumes`` after, ``release_server_volumes`` when it is
deleted. ``block_devices_for`` turns a server's entries into
the ``ServerSpec.block_devices``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypedDict

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.compute.models import Server
from cloudplane.compute.states import ServerStatus
from cloudplane.drivers.base import Capability
from cloudplane.drivers.storage_contract import BlockDeviceSpec
from cloudplane.identity.principal import Principal
from cloudplane.images.models import Image
from cloudplane.kit.errors import Conflict, NotFound, NotSupported, ValidationFailed
from cloudplane.operations.models import Operation
from cloudplane.operations.service import start_operation
from cloudplane.runtime import Runtime
from cloudplane.storage import repository
from cloudplane.storage.models import Volume, VolumeAttachment
from cloudplane.storage.schemas import BootVolumeExisting, BootVolumeRequest
from cloudplane.storage.service import cannot, check_fits_image, get_volume, store_new_volume
from cloudplane.storage.states import VolumeAction, VolumeStatus

BOOT_DEVICE = "vda"
DATA_DEVICES = tuple(f"vd{letter}" for letter in "bcdefghijklmnopqrstuvwxyz")

_ATTACHABLE_SERVER_STATUSES = frozenset(
    {ServerStatus.ACTIVE.value, ServerStatus.SHUTOFF.value, ServerStatus.PAUSED.value}
)


class ServerVolumeEntry(TypedDict):
    """One entry of a server body's ``volumes``."""

    volume_id: str
    device: str
    boot: bool


async def reserve_boot_volume(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    server_id: str,
    request: BootVolumeRequest,
    image: Image | None,
) -> Volume:
    """Reserve the boot volume of a server being created and return it.

    ``{size_gb, volume_type?}``: a new volume made from ``image`` (422 without one, or when it
    is too small for it), ``creating``, owned by the server (deleted with it), counted against
    ``volumes``/``volume_gb`` and its pool's space (409 ``quota_exceeded`` / ``conflict``).
    ``{volume_id}``: a live volume of the principal's project (404 otherwise) that is
    ``available`` (409 with ``details.status``) and bootable (422); it becomes ``attaching``.
    Either way it is recorded as the server's ``vda``.

    Call it after the server row has been added and flushed (the attachment refers to it),
    in the same transaction; any error leaves the caller to roll back, storing nothing.
    """
    if isinstance(request, BootVolumeExisting):
        volume = await get_volume(session, principal, request.volume_id, for_update=True)
        if volume.project_id != principal.project_id:
            raise NotFound("volume", request.volume_id)
        if not volume.bootable:
            raise ValidationFailed(
                f"volume {volume.id} is not bootable", field="body.boot_volume.volume_id"
            )
        changed = await repository.compare_and_set_volume(
            session,
            volume.id,
            expect={"status": VolumeStatus.AVAILABLE.value},
            values={"status": VolumeStatus.ATTACHING.value, "error_message": None},
        )
        if not changed:
            await session.refresh(volume)
            raise cannot("boot from", volume)
        await session.refresh(volume)
    else:
        if image is None:
            raise ValidationFailed(
                "a new boot volume is made from an image; give image_id",
                field="body.image_id",
            )
        await check_fits_image(runtime, image, request.size_gb, field="body.boot_volume.size_gb")
        volume = await store_new_volume(
            session,
            runtime,
            principal,
            name=f"boot-{server_id}",
            description=f"boot volume of server {server_id}",
            size_gb=request.size_gb,
            volume_type=request.volume_type,
            image=image,
            owner_server_id=server_id,
        )
    session.add(
        VolumeAttachment(volume_id=volume.id, server_id=server_id, device=BOOT_DEVICE, boot=True)
    )
    await session.flush()
    return volume


async def attach_volume_request(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    server: Server,
    volume_id: str,
    device: str | None,
) -> Operation:
    """Reserve the volume and a device of ``server`` and start the ``attach`` operation.

    The server must be ACTIVE, SHUTOFF or PAUSED with nothing in flight (409); a server that is
    not SHUTOFF needs ``HOT_ATTACH`` (501). The volume must be visible (404), in the server's
    project (409) and ``available`` (409 with ``details.status``; of concurrent attaches of
    one volume exactly one gets here). ``device`` (``vdb`` … ``vdz``) must be free on the
    server (409); without one the first free name is given.
    """
    await session.refresh(server, with_for_update={"read": True})
    _check_server_accepts_volumes(runtime, server)
    volume = await get_volume(session, principal, volume_id)
    if volume.project_id != server.project_id:
        raise Conflict(
            f"volume {volume_id} and server {server.id} are in different projects",
            status=volume.status,
        )
    changed = await repository.compare_and_set_volume(
        session,
        volume.id,
        expect={"status": VolumeStatus.AVAILABLE.value},
        values={"status": VolumeStatus.ATTACHING.value, "error_message": None},
    )
    if not changed:
        await session.refresh(volume)
        raise cannot("attach", volume)
    chosen = await _add_attachment(session, server.id, volume.id, device)
    return await start_operation(
        session,
        runtime,
        principal,
        action=VolumeAction.ATTACH.value,
        resource_type="volume",
        resource_id=volume.id,
        params={"server_id": server.id, "device": chosen},
    )


async def detach_volume_request(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    server: Server,
    volume_id: str,
) -> Operation:
    """Start detaching an ``in-use`` data volume from ``server``.

    404 when the volume is not visible or not attached to this server; 409 for the boot
    volume, or when the volume is not ``in-use`` (``details.status``); 501 without
    ``HOT_ATTACH`` unless the server is SHUTOFF.
    """
    volume = await get_volume(session, principal, volume_id)
    attachment = await repository.get_attachment(session, volume.id)
    if attachment is None or attachment.server_id != server.id:
        raise NotFound(f"attachment of volume {volume_id} to server", server.id)
    if attachment.boot:
        raise Conflict(
            f"volume {volume_id} is the boot volume of server {server.id} and cannot be detached",
            status=volume.status,
        )
    _check_server_accepts_volumes(runtime, server)
    changed = await repository.compare_and_set_volume(
        session,
        volume.id,
        expect={"status": VolumeStatus.IN_USE.value},
        values={"status": VolumeStatus.DETACHING.value},
    )
    if not changed:
        await session.refresh(volume)
        raise cannot("detach", volume)
    return await start_operation(
        session,
        runtime,
        principal,
        action=VolumeAction.DETACH.value,
        resource_type="volume",
        resource_id=volume.id,
        params={"server_id": server.id},
    )


async def server_volumes(
    session: AsyncSession, server_ids: Sequence[str]
) -> dict[str, list[ServerVolumeEntry]]:
    """The ``volumes`` of each server body (boot volume first, then by device), in one query.

    Every id gets an entry, empty when the server has no volumes.
    """
    entries: dict[str, list[ServerVolumeEntry]] = {server_id: [] for server_id in server_ids}
    for server_id, volume_id, device, boot in await repository.server_volume_rows(
        session, server_ids
    ):
        entries[server_id].append(
            ServerVolumeEntry(volume_id=volume_id, device=device, boot=bool(boot))
        )
    return entries


def block_devices_for(entries: Iterable[ServerVolumeEntry]) -> tuple[BlockDeviceSpec, ...]:
    """The ``ServerSpec.block_devices`` for a server's ``server_volumes`` entries."""
    ordered = sorted(entries, key=lambda entry: (not entry["boot"], entry["device"]))
    return tuple(
        BlockDeviceSpec(volume_id=entry["volume_id"], device=entry["device"], boot=entry["boot"])
        for entry in ordered
    )


def _check_server_accepts_volumes(runtime: Runtime, server: Server) -> None:
    if server.status not in _ATTACHABLE_SERVER_STATUSES or server.task_state is not None:
        raise Conflict(
            f"server {server.id} is {server.status}"
            + (f" with {server.task_state} in progress" if server.task_state else "")
            + "; volumes are attached and detached while it is ACTIVE, SHUTOFF or PAUSED",
            status=server.status,
            task_state=server.task_state,
        )
    running = server.status != ServerStatus.SHUTOFF.value
    if running and Capability.HOT_ATTACH not in runtime.driver.capabilities:
        raise NotSupported(
            "the driver cannot attach or detach volumes of a running server; stop it first"
        )


async def _add_attachment(
    session: AsyncSession, server_id: str, volume_id: str, device: str | None
) -> str:
    """Insert the attachment row; a requested device that is taken is 409, an automatic one
    moves on to the next free name when a concurrent attach took it first."""
    for _ in range(len(DATA_DEVICES)):
        taken = {
            row.device for row in await repository.attachments_of_servers(session, [server_id])
        }
        chosen = device or next((name for name in DATA_DEVICES if name not in taken), None)
        if chosen is None:
            raise Conflict(f"server {server_id} has no free device name left", status="full")
        if chosen in taken:
            raise Conflict(f"device {chosen} of server {server_id} is in use", status="in_use")
        try:
            async with session.begin_nested():
                session.add(
                    VolumeAttachment(volume_id=volume_id, server_id=server_id, device=chosen)
                )
        except IntegrityError as exc:
            if device is not None:
                raise Conflict(
                    f"device {chosen} of server {server_id} is in use", status="in_use"
                ) from exc
            continue
        return chosen
    raise Conflict(f"could not give server {server_id} a device name; retry", status="busy")

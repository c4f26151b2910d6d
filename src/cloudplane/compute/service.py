"""Server rules: create with quota and validation, rename, power actions, delete.

Every change that needs the hypervisor is a compare-and-set on the server row plus a pending
operation in the same transaction; the worker does the rest after commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from cloudplane.compute import repository
from cloudplane.compute.flavor_service import get_flavor_for_create
from cloudplane.compute.models import Flavor, Server
from cloudplane.compute.schemas import ServerCreate, ServerUpdate
from cloudplane.compute.server_extras import ServerExtras, load_server_with_extras
from cloudplane.compute.states import TRANSITIONS, ServerAction, ServerStatus, TaskState
from cloudplane.compute.views import ServerFields
from cloudplane.drivers.base import PowerState
from cloudplane.identity.principal import Principal
from cloudplane.identity.quotas import check_quota, lock_quota
from cloudplane.images.models import Image
from cloudplane.images.service import get_bootable_image
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import new_id
from cloudplane.kit.errors import Conflict, NotFound, ValidationFailed
from cloudplane.network.server_ports import allocate_server_ports
from cloudplane.operations.models import Operation
from cloudplane.operations.service import start_operation
from cloudplane.runtime import Runtime
from cloudplane.storage.server_volumes import reserve_boot_volume

RESOURCE = "server"


async def get_server(session: AsyncSession, principal: Principal, server_id: str) -> Server:
    """A live server the principal may see; another project's is 404 (admins see all)."""
    server = await repository.get_live_server(session, server_id)
    if server is None or not _visible(principal, server):
        raise NotFound(RESOURCE, server_id)
    return server


async def get_server_any_state(
    session: AsyncSession, principal: Principal, server_id: str, *, include_deleted: bool
) -> Server:
    server = await repository.get_any_server(session, server_id)
    if server is None or not _visible(principal, server):
        raise NotFound(RESOURCE, server_id)
    if server.deleted_at is not None and not (include_deleted and principal.is_admin):
        raise NotFound(RESOURCE, server_id)
    return server


async def get_server_view(
    session: AsyncSession, principal: Principal, server_id: str, *, include_deleted: bool
) -> tuple[ServerFields, ServerExtras]:
    """``get_server_any_state`` for reading only: the body's columns and extras, same
    visibility rules."""
    found = await load_server_with_extras(session, server_id)
    if found is None or not _visible(principal, found[0]):
        raise NotFound(RESOURCE, server_id)
    server, extras = found
    if server.deleted_at is not None and not (include_deleted and principal.is_admin):
        raise NotFound(RESOURCE, server_id)
    return cast(ServerFields, server), extras


def _visible(principal: Principal, server: ServerFields | Row[Any]) -> bool:
    return principal.is_admin or server.project_id == principal.project_id


async def create_server(
    session: AsyncSession, runtime: Runtime, principal: Principal, body: ServerCreate
) -> tuple[Server, Operation]:
    """Validate everything, check quota under the project's lock, then store the server with
    its boot volume and ports, all in the caller's transaction.

    Nothing is stored when any check fails (the caller rolls back); a taken name is 409 by the
    unique constraint.
    """
    flavor = await get_flavor_for_create(session, principal, body.flavor_id)
    image = (
        await get_bootable_image(session, principal, body.image_id)
        if body.image_id is not None
        else None
    )
    if image is not None:
        _check_image_fits_flavor(image, flavor, boots_from_volume=body.boot_volume is not None)
    quota = await lock_quota(session, principal.project_id)
    usage = await repository.server_usage(session, principal.project_id)
    check_quota(quota, usage, {"servers": 1, "vcpus": flavor.vcpus, "ram_mb": flavor.ram_mb})
    server = Server(
        id=new_id(),
        project_id=principal.project_id,
        user_id=principal.user_id,
        name=body.name,
        description=body.description,
        flavor_id=flavor.id,
        image_id=image.id if image is not None else None,
        vcpus=flavor.vcpus,
        ram_mb=flavor.ram_mb,
        disk_gb=flavor.disk_gb,
        status=ServerStatus.BUILD.value,
        task_state=TaskState.SPAWNING.value,
        power_state="nostate",
        metadata_=dict(body.metadata),
        user_data=body.user_data,
    )
    session.add(server)
    await _flush_or_conflict(session, body.name)
    if body.boot_volume is not None:
        await reserve_boot_volume(session, runtime, principal, server.id, body.boot_volume, image)
    if body.networks != []:
        await allocate_server_ports(
            session, runtime, principal, server.id, body.networks or [], body.security_groups
        )
    operation = await start_operation(
        session,
        runtime,
        principal,
        action=ServerAction.CREATE.value,
        resource_type=RESOURCE,
        resource_id=server.id,
    )
    return server, operation


def _check_image_fits_flavor(image: Image, flavor: Flavor, *, boots_from_volume: bool) -> None:
    """An image's minimums against the flavor (the disk only when the image is the root disk)."""
    if not boots_from_volume and image.min_disk_gb > flavor.disk_gb:
        raise ValidationFailed(
            f"image {image.name} needs {image.min_disk_gb} GB of disk; "
            f"flavor {flavor.name} has {flavor.disk_gb} GB",
            field="body.flavor_id",
        )
    if image.min_ram_mb > flavor.ram_mb:
        raise ValidationFailed(
            f"image {image.name} needs {image.min_ram_mb} MB of RAM; "
            f"flavor {flavor.name} has {flavor.ram_mb} MB",
            field="body.flavor_id",
        )


async def update_server(
    session: AsyncSession, principal: Principal, server_id: str, body: ServerUpdate
) -> Server:
    """Rename, describe or re-tag a server; allowed in any live state."""
    server = await get_server(session, principal, server_id)
    if body.name is not None:
        server.name = body.name
    if body.description is not None:
        server.description = body.description
    if body.metadata is not None:
        server.metadata_ = dict(body.metadata)
    await _flush_or_conflict(session, server.name)
    return server


async def request_action(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    server_id: str,
    action: ServerAction,
) -> tuple[Server, Operation]:
    """Start a power action if the state machine allows it and nothing else is in flight.

    The check and the change are one compare-and-set, so of two racing requests one wins and
    the other gets 409 with the server's current status.
    """
    server = await get_server(session, principal, server_id)
    transition = TRANSITIONS[action]
    values: dict[str, object] = {"task_state": transition.task_state.value, "updated_at": utcnow()}
    if transition.during is not None:
        values["status"] = transition.during.value
    changed = await repository.compare_and_set(
        session,
        server.id,
        expect={"task_state": None, "status": {s.value for s in transition.allowed_from}},
        values=values,
    )
    if not changed:
        await session.refresh(server)
        raise _cannot(action, server)
    _written(server, values)
    operation = await start_operation(
        session,
        runtime,
        principal,
        action=action.value,
        resource_type=RESOURCE,
        resource_id=server.id,
    )
    return server, operation


async def request_delete(
    session: AsyncSession, runtime: Runtime, principal: Principal, server_id: str
) -> tuple[Server, Operation]:
    """Delete from any state, even with another operation in flight (that one then yields).

    A second delete while one is under way is 409.
    """
    server = await get_server(session, principal, server_id)
    values: dict[str, object] = {
        "status": ServerStatus.DELETING.value,
        "task_state": TaskState.DELETING.value,
        "updated_at": utcnow(),
    }
    await _change_unless_deleting(session, server, values)
    operation = await start_operation(
        session,
        runtime,
        principal,
        action=ServerAction.DELETE.value,
        resource_type=RESOURCE,
        resource_id=server.id,
    )
    return server, operation


async def reset_state(
    session: AsyncSession, principal: Principal, server_id: str, status: ServerStatus
) -> Server:
    """Record ``status`` and clear ``task_state``, in the database only: an administrator's
    way out for a server that a failure left held or stuck until someone looked (Nova's
    reset-state, Proxmox's unlock). ``ERROR`` keeps the server's fault, or records that an
    administrator set it; the other statuses clear it.

    The hypervisor is not asked, and the power state becomes ``nostate``: the next reconcile
    reads it again and, unless the status is ``ERROR``, sets the status it implies. An
    operation still running on the server finds it changed and stops. A server being deleted
    is 409.
    """
    server = await get_server(session, principal, server_id)
    now = utcnow()
    values: dict[str, object] = {
        "status": status.value,
        "task_state": None,
        "power_state": PowerState.NOSTATE.value,
        "updated_at": now,
    }
    if status is not ServerStatus.ERROR:
        values.update(fault_code=None, fault_message=None, fault_at=None)
    elif server.fault_code is None:
        values.update(
            fault_code="reset_state",
            fault_message="set to ERROR by an administrator",
            fault_at=now,
        )
    await _change_unless_deleting(session, server, values)
    return server


async def _change_unless_deleting(
    session: AsyncSession, server: Server, values: Mapping[str, object]
) -> None:
    """Write ``values`` on a server in any status but ``DELETING`` (409 then), in one
    compare-and-set, and show them on the loaded ``server``."""
    changed = await repository.compare_and_set(
        session,
        server.id,
        expect={"status": {s.value for s in ServerStatus if s is not ServerStatus.DELETING}},
        values=values,
    )
    if not changed:
        await session.refresh(server)
        raise Conflict(f"server {server.id} is already being deleted", status=server.status)
    _written(server, values)


def _written(server: Server, values: Mapping[str, object]) -> None:
    """Show on the loaded ``server`` what a successful compare-and-set wrote: the row holds
    exactly these values now, so reading it back would only repeat them."""
    for name, value in values.items():
        set_committed_value(server, name, value)


def _cannot(action: ServerAction, server: Server) -> Conflict:
    if server.task_state is not None:
        message = (
            f"cannot {action.value.replace('_', ' ')} server {server.id}: "
            f"{server.task_state} is in progress"
        )
    else:
        message = (
            f"cannot {action.value.replace('_', ' ')} server {server.id} "
            f"while it is {server.status}"
        )
    return Conflict(message, status=server.status, task_state=server.task_state)


async def _flush_or_conflict(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a server named {name!r} already exists in this project") from exc

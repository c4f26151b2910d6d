"""Worker-side server operations: call the driver, then record the outcome.

Each handler reloads the server, does the backend call (idempotent by the server's id), and
writes the final state with a compare-and-set on ``task_state``. When that compare fails, a
delete has taken over the server meanwhile: the handler yields, and a create cleans up what it
built so a deleted server never comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.compute import repository
from cloudplane.compute.models import Server
from cloudplane.compute.states import TRANSITIONS, ServerAction, ServerStatus, TaskState, Transition
from cloudplane.drivers.base import (
    BlockDeviceSpec,
    ComputeDriver,
    ImageRef,
    InterfaceSpec,
    RebootKind,
    ServerInfo,
    ServerSpec,
)
from cloudplane.images.models import Image
from cloudplane.images.storage import ImageStore
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.network.group_peers import concerned_peer_groups, request_peer_refresh
from cloudplane.network.port_building import PortBuilds
from cloudplane.network.server_ports import (
    delete_made_ports_on_backend,
    load_server_port_builds,
    made_port_ids,
    made_port_ids_of,
    mark_ports_active,
    plug_loaded_ports,
    release_server_ports,
)
from cloudplane.operations.failure_code import failure_code
from cloudplane.operations.handlers import HandlerRegistry
from cloudplane.operations.models import Operation
from cloudplane.operations.service import finish_operation, record_event
from cloudplane.runtime import Runtime
from cloudplane.storage.server_volume_lifecycle import (
    ServerVolumePlan,
    build_planned_volumes,
    finish_server_volumes,
    plan_server_volumes,
    release_server_volumes,
)

RESOURCE = "server"


def register_compute_handlers(registry: HandlerRegistry) -> None:
    registry.register(RESOURCE, ServerAction.CREATE.value, CreateServer())
    registry.register(RESOURCE, ServerAction.DELETE.value, DeleteServer())
    for action in TRANSITIONS:
        registry.register(RESOURCE, action.value, PowerAction(action))


def _fault(code: str, message: str) -> dict[str, Any]:
    return {"fault_code": code, "fault_message": message[:1024], "fault_at": utcnow()}


_NO_FAULT: dict[str, Any] = {"fault_code": None, "fault_message": None, "fault_at": None}


def _settled(info: ServerInfo, status: ServerStatus) -> dict[str, Any]:
    return {
        "status": status.value,
        "task_state": None,
        "power_state": info.power_state.value,
        "host": info.host,
        **_NO_FAULT,
    }


async def _fail_server(
    runtime: Runtime, operation: Operation, reason: str, *, task_state: TaskState
) -> None:
    """ERROR with a fault if the server is still in this operation's hands; the op fails."""
    async with unit_of_work(runtime.sessions, write=True) as session:
        await repository.compare_and_set(
            session,
            operation.resource_id,
            expect={"task_state": task_state.value},
            values={
                "status": ServerStatus.ERROR.value,
                "task_state": None,
                **_fault(failure_code() or f"{operation.action}_failed", reason),
            },
        )
        await finish_operation(session, operation.id, error=reason)


class CreateServer:
    """Builds a server in three transactions: one reads everything the build needs, the
    backend builds volumes, ports and the server, and one records the outcome (the ports
    become ``ACTIVE`` with the server). A new boot volume adds one write of its own."""

    async def run(self, runtime: Runtime, operation: Operation) -> None:
        async with unit_of_work(runtime.sessions) as session:
            build = await _load_build(session, runtime, operation.resource_id)
        if build is None:
            await _yield_to_delete(runtime, operation, "the server was deleted before it was built")
            return
        server, ports = build.server, build.ports
        request_peer_refresh(runtime, build.peer_groups)
        block_devices = await build_planned_volumes(runtime, build.volumes)
        interfaces = await plug_loaded_ports(runtime, ports)
        spec = _spec(
            server,
            build.image,
            ImageStore(runtime.settings.images_dir),
            block_devices=block_devices,
            interfaces=interfaces,
        )
        try:
            info = await runtime.driver.create_server(spec)
        except Exception:
            # The ports exist on the backend whatever became of the server: say so, unless a
            # delete has taken the server meanwhile, which may have run before they existed.
            async with unit_of_work(runtime.sessions, write=True) as session:
                await mark_ports_active(session, ports)
                deleted_meanwhile = await _spawning_server(session, server.id) is None
            if deleted_meanwhile:
                await delete_made_ports_on_backend(runtime, made_port_ids_of(ports))
            raise
        if block_devices:
            # Only a server with volumes has attachments to finish: none can be added while
            # it is spawning.
            await finish_server_volumes(runtime, server.id, built=True)
        async with unit_of_work(runtime.sessions, write=True) as session:
            await mark_ports_active(session, ports)
            built = await repository.compare_and_set(
                session,
                server.id,
                expect={"task_state": TaskState.SPAWNING.value},
                values=_settled(info, ServerStatus.ACTIVE),
            )
            if built:
                record_event(session, operation.id, f"server running on {info.host}")
                await finish_operation(session, operation.id)
                return
        # Deleted while it was being built: remove what we made so it cannot come back. The
        # delete may have run before the server or its ports existed on the backend.
        await runtime.driver.delete_server(server.id)
        deletes = await delete_made_ports_on_backend(runtime, made_port_ids_of(ports))
        await _yield_to_delete(
            runtime,
            operation,
            "the server was deleted while it was being built",
            port_failures=deletes.failed,
        )

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        await _fail_server(runtime, operation, reason, task_state=TaskState.SPAWNING)
        await finish_server_volumes(runtime, operation.resource_id, built=False)


@dataclass(frozen=True, slots=True)
class _Build:
    """Everything a server's build reads from the database before calling the backend."""

    server: Server
    image: Image | None
    volumes: ServerVolumePlan
    ports: PortBuilds
    peer_groups: set[str]
    """The security groups whose peers the new ports change (``group_peers``)."""


async def _load_build(session: AsyncSession, runtime: Runtime, server_id: str) -> _Build | None:
    """The build of ``server_id``, or None when it is no longer spawning (deleted meanwhile)."""
    server = await _spawning_server(session, server_id)
    if server is None:
        return None
    ports = await load_server_port_builds(session, runtime, server.id)
    return _Build(
        server=server,
        image=await session.get(Image, server.image_id) if server.image_id else None,
        volumes=await plan_server_volumes(session, runtime, server.id),
        ports=ports,
        peer_groups=await concerned_peer_groups(session, runtime, [p.id for p in ports.ports]),
    )


async def _spawning_server(session: AsyncSession, server_id: str) -> Server | None:
    """The server while it is still in its create's hands; None once a delete has taken it."""
    server = await repository.get_any_server(session, server_id)
    if server is None or server.task_state != TaskState.SPAWNING.value:
        return None
    return server


class PowerAction:
    """start, stop, reboot (soft/hard), pause and resume: one driver call each."""

    def __init__(self, action: ServerAction) -> None:
        self.action = action
        self.transition: Transition = TRANSITIONS[action]

    async def run(self, runtime: Runtime, operation: Operation) -> None:
        info = await self._call_driver(runtime.driver, operation.resource_id)
        async with unit_of_work(runtime.sessions, write=True) as session:
            done = await repository.compare_and_set(
                session,
                operation.resource_id,
                expect={"task_state": self.transition.task_state.value},
                values=_settled(info, self.transition.success),
            )
            if done:
                await finish_operation(session, operation.id)
                return
        await _yield_to_delete(runtime, operation, "the server was deleted meanwhile")

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        await _fail_server(runtime, operation, reason, task_state=self.transition.task_state)

    async def _call_driver(self, driver: ComputeDriver, server_id: str) -> ServerInfo:
        match self.action:
            case ServerAction.START:
                return await driver.start_server(server_id)
            case ServerAction.STOP:
                return await driver.stop_server(server_id)
            case ServerAction.REBOOT:
                return await driver.reboot_server(server_id, RebootKind.SOFT)
            case ServerAction.REBOOT_HARD:
                return await driver.reboot_server(server_id, RebootKind.HARD)
            case ServerAction.PAUSE:
                return await driver.pause_server(server_id)
            case ServerAction.RESUME:
                return await driver.resume_server(server_id)
        raise ValueError(f"{self.action} is not a power action")


class DeleteServer:
    """Deletes the server on the backend, then the ports made for it, then records it all in
    one transaction. Every backend call is idempotent by id and every write is guarded by the
    server still being ``DELETING``, so a run repeated after a crash converges."""

    async def run(self, runtime: Runtime, operation: Operation) -> None:
        await runtime.driver.delete_server(operation.resource_id)
        async with unit_of_work(runtime.sessions) as session:
            port_ids = await _ports_to_delete(session, operation.resource_id)
            peer_groups = await concerned_peer_groups(session, runtime, port_ids)
        deletes = await delete_made_ports_on_backend(runtime, port_ids)
        async with unit_of_work(runtime.sessions, write=True) as session:
            server = await repository.get_live_server(session, operation.resource_id)
            if server is not None and server.task_state == TaskState.DELETING.value:
                server.status = ServerStatus.DELETED.value
                server.task_state = None
                server.power_state = "nostate"
                server.mark_deleted(server.id)
                # Ports, floating-IP associations and volumes go in the same transaction, so
                # a deleted server never leaves them pointing at it.
                await release_server_ports(
                    session, runtime, server.id, gone_on_backend=deletes.gone
                )
                await release_server_volumes(session, runtime, server.id)
            _record_port_failures(session, operation.id, deletes.failed)
            await finish_operation(session, operation.id)
        request_peer_refresh(runtime, peer_groups)

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        await _fail_server(runtime, operation, reason, task_state=TaskState.DELETING)


async def _ports_to_delete(session: AsyncSession, server_id: str) -> list[str]:
    """The ports made for the server, if it is still this delete's to finish."""
    server = await repository.get_live_server(session, server_id)
    if server is None or server.task_state != TaskState.DELETING.value:
        return []
    return await made_port_ids(session, server_id)


def _record_port_failures(session: AsyncSession, operation_id: str, failed: dict[str, str]) -> None:
    # Such a port still goes: ``release_server_ports`` gives it a delete operation of its own.
    for port_id, reason in failed.items():
        record_event(
            session,
            operation_id,
            f"port {port_id} could not be deleted on the backend ({reason}); retried on its own",
        )


async def _yield_to_delete(
    runtime: Runtime,
    operation: Operation,
    reason: str,
    *,
    port_failures: dict[str, str] | None = None,
) -> None:
    async with unit_of_work(runtime.sessions, write=True) as session:
        for port_id, failure in (port_failures or {}).items():
            # Nothing retries it: the delete has already finished the port's row.
            record_event(
                session,
                operation.id,
                f"port {port_id} made by this build could not be removed from the backend "
                f"({failure}); remove it there by hand",
            )
        await finish_operation(session, operation.id, error=reason)


def _spec(
    server: Server,
    image: Image | None,
    store: ImageStore,
    *,
    block_devices: tuple[BlockDeviceSpec, ...],
    interfaces: tuple[InterfaceSpec, ...],
) -> ServerSpec:
    image_ref = None
    if image is not None:
        image_ref = ImageRef(
            id=image.id,
            disk_format=image.disk_format,
            path=str(store.path_for(image.id)),
            size_bytes=image.size_bytes or 0,
            checksum_sha256=image.checksum_sha256,
        )
    return ServerSpec(
        id=server.id,
        name=server.name,
        vcpus=server.vcpus,
        ram_mb=server.ram_mb,
        disk_gb=server.disk_gb,
        image=image_ref,
        user_data=server.user_data,
        metadata=dict(server.metadata_ or {}),
        block_devices=block_devices,
        interfaces=interfaces,
    )

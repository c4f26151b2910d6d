"""Worker-side networking operations: call the driver, then record the outcome.

Handlers take ids, reload rows and are idempotent (the driver calls are idempotent by id). A
create whose row was deleted meanwhile undoes what it built, so a deleted network or port never
comes back on the backend.
"""

from __future__ import annotations

from cloudplane.drivers.base import Capability
from cloudplane.drivers.errors import ResourceNotFound
from cloudplane.kit.db import unit_of_work
from cloudplane.network import repository
from cloudplane.network.floating_ip_schemas import FloatingIpStatus, FloatingIpTask
from cloudplane.network.floating_ip_service import mapping_spec
from cloudplane.network.group_peers import (
    concerned_peer_groups,
    request_peer_refresh,
    request_peer_refresh_for_ports,
)
from cloudplane.network.ipam import release_floating_address, release_port_addresses
from cloudplane.network.models import FloatingIp, Network, Port
from cloudplane.network.network_service import network_spec
from cloudplane.network.port_building import build_ports_on_backend
from cloudplane.network.port_service import FORMER_GROUPS
from cloudplane.network.schemas import NetworkStatus, PortStatus
from cloudplane.operations.handlers import HandlerRegistry
from cloudplane.operations.models import Operation
from cloudplane.operations.service import finish_operation, record_event
from cloudplane.runtime import Runtime


def register_network_handlers(registry: HandlerRegistry) -> None:
    registry.register("network", "create", CreateNetwork())
    registry.register("network", "delete", DeleteNetwork())
    registry.register("port", "create", CreatePort())
    registry.register("port", "delete", DeletePort())
    registry.register("port", "apply_security_groups", ApplyPortRules())
    registry.register("security_group", "apply_rules", ApplyGroupRules())
    registry.register("floating_ip", "associate", AssociateFloatingIp())
    registry.register("floating_ip", "disassociate", DisassociateFloatingIp())
    registry.register("floating_ip", "release", ReleaseFloatingIp())


async def _finish(runtime: Runtime, operation: Operation, error: str | None = None) -> None:
    async with unit_of_work(runtime.sessions, write=True) as session:
        await finish_operation(session, operation.id, error=error)


class CreateNetwork:
    async def run(self, runtime: Runtime, operation: Operation) -> None:
        async with unit_of_work(runtime.sessions) as session:
            network = await repository.get_row(session, Network, operation.resource_id)
        if network is None or network.status != NetworkStatus.BUILD.value:
            await _finish(runtime, operation, "the network was deleted before it was built")
            return
        await runtime.driver.create_network(network_spec(network))
        async with unit_of_work(runtime.sessions, write=True) as session:
            built = await repository.compare_and_set(
                session,
                Network,
                network.id,
                expect={"status": NetworkStatus.BUILD.value},
                values={"status": NetworkStatus.ACTIVE.value},
            )
            if built:
                await finish_operation(session, operation.id)
                return
        # Deleted while it was being built: remove it so it cannot come back.
        await runtime.driver.delete_network(network.id)
        await _finish(runtime, operation, "the network was deleted while it was being built")

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        async with unit_of_work(runtime.sessions, write=True) as session:
            await repository.compare_and_set(
                session,
                Network,
                operation.resource_id,
                expect={"status": NetworkStatus.BUILD.value},
                values={"status": NetworkStatus.ERROR.value},
            )
            await finish_operation(session, operation.id, error=reason)


class DeleteNetwork:
    async def run(self, runtime: Runtime, operation: Operation) -> None:
        await runtime.driver.delete_network(operation.resource_id)
        await _finish(runtime, operation)

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        await _finish(runtime, operation, reason)


class CreatePort:
    async def run(self, runtime: Runtime, operation: Operation) -> None:
        async with unit_of_work(runtime.sessions) as session:
            port = await repository.get_row(session, Port, operation.resource_id)
            peer_groups = await concerned_peer_groups(session, runtime, [operation.resource_id])
        if port is None or port.status != PortStatus.BUILD.value:
            await _finish(runtime, operation, "the port was deleted before it could be built")
            return
        request_peer_refresh(runtime, peer_groups)
        await build_ports_on_backend(runtime, [port.id])
        settled = PortStatus.ACTIVE if port.device_id else PortStatus.DOWN
        async with unit_of_work(runtime.sessions, write=True) as session:
            built = await repository.compare_and_set(
                session,
                Port,
                port.id,
                expect={"status": PortStatus.BUILD.value},
                values={"status": settled.value},
            )
            if built:
                await finish_operation(session, operation.id)
                return
        await runtime.driver.delete_port(port.id)
        await _finish(runtime, operation, "the port was deleted while it was being built")

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        async with unit_of_work(runtime.sessions, write=True) as session:
            await repository.compare_and_set(
                session,
                Port,
                operation.resource_id,
                expect={"status": PortStatus.BUILD.value},
                values={"status": PortStatus.ERROR.value},
            )
            await finish_operation(session, operation.id, error=reason)


class DeletePort:
    """Remove the port from the backend, then free its addresses."""

    async def run(self, runtime: Runtime, operation: Operation) -> None:
        await runtime.driver.delete_port(operation.resource_id)
        async with unit_of_work(runtime.sessions, write=True) as session:
            await release_port_addresses(session, operation.resource_id)
            await finish_operation(session, operation.id)
        await request_peer_refresh_for_ports(runtime, [operation.resource_id])

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        # The addresses stay taken: the backend may still hold the port. The leak sweep retries.
        await _finish(runtime, operation, reason)


async def _apply_rules(runtime: Runtime, port_ids: list[str]) -> int:
    """Push each port's current rules to the backend."""
    if Capability.SECURITY_GROUPS not in runtime.driver.capabilities or not port_ids:
        return 0
    async with unit_of_work(runtime.sessions) as session:
        rules = await repository.rules_of_ports(session, port_ids)
    applied = 0
    for port_id, port_rules in rules.items():
        try:
            await runtime.driver.apply_security_groups(port_id, port_rules)
        except ResourceNotFound:
            # Not built yet: building it now gives it the current rules.
            await build_ports_on_backend(runtime, [port_id])
        applied += 1
    return applied


class ApplyPortRules:
    async def run(self, runtime: Runtime, operation: Operation) -> None:
        former = operation.params.get(FORMER_GROUPS, [])
        await request_peer_refresh_for_ports(runtime, [operation.resource_id], former_groups=former)
        await _apply_rules(runtime, [operation.resource_id])
        await _finish(runtime, operation)

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        await _finish(runtime, operation, reason)


class ApplyGroupRules:
    async def run(self, runtime: Runtime, operation: Operation) -> None:
        async with unit_of_work(runtime.sessions) as session:
            port_ids = await repository.live_ports_of_group(session, operation.resource_id)
            peer_groups = await concerned_peer_groups(session, runtime, port_ids)
        request_peer_refresh(runtime, peer_groups)
        applied = await _apply_rules(runtime, port_ids)
        async with unit_of_work(runtime.sessions, write=True) as session:
            record_event(session, operation.id, f"rules applied to {applied} ports")
            await finish_operation(session, operation.id)

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        await _finish(runtime, operation, reason)


async def _floating_ip_failed(
    runtime: Runtime, operation: Operation, reason: str, task: FloatingIpTask
) -> None:
    async with unit_of_work(runtime.sessions, write=True) as session:
        await repository.compare_and_set(
            session,
            FloatingIp,
            operation.resource_id,
            expect={"task_state": task.value},
            values={"status": FloatingIpStatus.ERROR.value, "task_state": None},
        )
        await finish_operation(session, operation.id, error=reason)


class AssociateFloatingIp:
    async def run(self, runtime: Runtime, operation: Operation) -> None:
        async with unit_of_work(runtime.sessions) as session:
            floating_ip = await repository.get_row(session, FloatingIp, operation.resource_id)
        task = FloatingIpTask.ASSOCIATING.value
        if floating_ip is None or floating_ip.task_state != task or floating_ip.port_id is None:
            await _finish(runtime, operation, "the association was withdrawn before it was made")
            return
        spec = mapping_spec(floating_ip, floating_ip.port_id)
        # A server's port is built by the server's own operation, which may not have run yet.
        await build_ports_on_backend(runtime, [spec.port_id])
        await runtime.driver.associate_floating_ip(spec)
        async with unit_of_work(runtime.sessions, write=True) as session:
            done = await repository.compare_and_set(
                session,
                FloatingIp,
                floating_ip.id,
                expect={"task_state": task, "port_id": spec.port_id},
                values={"status": FloatingIpStatus.ACTIVE.value, "task_state": None},
            )
            if done:
                await finish_operation(session, operation.id)
                return
            port_gone = await repository.get_row(session, Port, spec.port_id) is None
        # Withdrawn meanwhile (server or port deleted, floating IP released): undo the mapping,
        # and the port as well when it is gone: its delete may have run before it was built.
        await runtime.driver.disassociate_floating_ip(floating_ip.id)
        if port_gone:
            await runtime.driver.delete_port(spec.port_id)
        await _finish(runtime, operation, "the association was withdrawn while it was being made")

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        await _floating_ip_failed(runtime, operation, reason, FloatingIpTask.ASSOCIATING)


class DisassociateFloatingIp:
    async def run(self, runtime: Runtime, operation: Operation) -> None:
        await runtime.driver.disassociate_floating_ip(operation.resource_id)
        async with unit_of_work(runtime.sessions, write=True) as session:
            await repository.compare_and_set(
                session,
                FloatingIp,
                operation.resource_id,
                expect={"task_state": FloatingIpTask.DISASSOCIATING.value},
                values={
                    "status": FloatingIpStatus.DOWN.value,
                    "task_state": None,
                    "port_id": None,
                    "fixed_ip": None,
                },
            )
            await finish_operation(session, operation.id)

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        await _floating_ip_failed(runtime, operation, reason, FloatingIpTask.DISASSOCIATING)


class ReleaseFloatingIp:
    """A released floating IP that was mapped: remove the mapping, then free the address."""

    async def run(self, runtime: Runtime, operation: Operation) -> None:
        await runtime.driver.disassociate_floating_ip(operation.resource_id)
        async with unit_of_work(runtime.sessions, write=True) as session:
            await release_floating_address(session, operation.resource_id)
            await finish_operation(session, operation.id)

    async def fail(self, runtime: Runtime, operation: Operation, reason: str) -> None:
        await _finish(runtime, operation, reason)

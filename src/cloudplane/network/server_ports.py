"""What compute calls to give servers their network interfaces, show them, and take them back.

These functions run inside compute's own transactions and never commit. A server's ports are
rows like any other port, bound with ``device_id = server id``: ``device_owner = "compute"`` for
ports made for the server (deleted with it) and ``"compute:attached"`` for the project's own
ports given to it (unbound, and kept, when it goes).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.drivers.errors import DriverError
from cloudplane.drivers.network_contract import InterfaceSpec
from cloudplane.identity.principal import Principal
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import LIVE
from cloudplane.kit.errors import Conflict, ValidationFailed
from cloudplane.network import repository
from cloudplane.network.floating_ip_schemas import FloatingIpTask
from cloudplane.network.ipam import check_requested_ip, release_port_addresses
from cloudplane.network.models import FloatingIp, Network, Port
from cloudplane.network.network_service import get_usable_network
from cloudplane.network.port_building import PortBuilds, build_loaded_ports, load_port_builds
from cloudplane.network.port_service import (
    get_port,
    hide_port,
    remove_port,
    store_port,
)
from cloudplane.network.repository import RowLock
from cloudplane.network.schemas import DeviceOwner, NetworkRequest, PortStatus
from cloudplane.network.security_group_service import groups_for_port
from cloudplane.operations.service import start_operation
from cloudplane.runtime import Runtime


async def allocate_server_ports(
    session: AsyncSession,
    runtime: Runtime,
    principal: Principal,
    server_id: str,
    requests: list[NetworkRequest],
    security_group_ids: list[str],
) -> list[Port]:
    """Give server ``server_id`` its interfaces, in request order; returns their ports.

    ``{network_id, fixed_ip?}`` makes a port owned by the server (with ``security_group_ids``,
    or the project's ``default`` group when that list is empty), left ``BUILD`` for the
    server's create operation to build with ``plug_loaded_ports``; ``{port_id}`` binds an
    unbound port of the project as it is. With no requests, the project's only usable network
    (its own or shared, not external) gets a port; with none the server has no interface, and
    with several it is 409 ``details.reason = "network_ambiguous"``.

    Every request is checked before anything is stored: unknown network, port or group → 404,
    external network → 403, a bound port or a port given twice → 409, a ``fixed_ip`` outside the
    network → 422 naming ``body.networks.<i>.fixed_ip``. A taken fixed IP (409) or an exhausted
    network (409) shows only while storing, so call this inside the server-create transaction:
    its rollback undoes everything.
    """
    if not requests:
        networks = await repository.usable_networks(session, principal.project_id)
        if not networks:
            return []
        if len(networks) > 1:
            raise Conflict(
                "several networks are available; choose with `networks`",
                reason="network_ambiguous",
                networks=[network.id for network in networks[:20]],
            )
        requests = [NetworkRequest(network_id=networks[0].id)]
    planned = await _check_requests(session, principal, requests)
    # Looked up (and locked) once for all the new ports, and before any is stored.
    groups = await groups_for_port(
        session, runtime, principal.project_id, list(security_group_ids) or None
    )
    ports: list[Port] = []
    for item in planned:
        if isinstance(item, Port):
            ports.append(_bind(item, server_id))
            continue
        network, fixed_ip = item
        ports.append(
            await store_port(
                session,
                runtime,
                principal,
                network=network,
                requested_ip=fixed_ip,
                groups=groups,
                device_id=server_id,
                device_owner=DeviceOwner.SERVER,
                build=False,
            )
        )
    await session.flush()
    return ports


async def server_ports(session: AsyncSession, server_id: str) -> list[Port]:
    """The server's live ports in interface order (for ``interfaces_for``)."""
    rows = await session.scalars(
        select(Port)
        .where(Port.device_id == server_id, Port.deleted_key == LIVE)
        .order_by(Port.created_at, Port.id)
    )
    return list(rows.all())


async def load_server_port_builds(
    session: AsyncSession, runtime: Runtime, server_id: str
) -> PortBuilds:
    """The server's ports in interface order, with what building them on the backend needs.

    For a server's create operation, which reads everything its build needs in one
    transaction; ``plug_loaded_ports`` then builds them.
    """
    return await load_port_builds(session, runtime, await server_ports(session, server_id))


async def plug_loaded_ports(runtime: Runtime, builds: PortBuilds) -> tuple[InterfaceSpec, ...]:
    """Build the loaded ports on the backend (idempotent) and return the server's
    ``ServerSpec.interfaces``. They stay ``BUILD`` until ``mark_ports_active``."""
    await build_loaded_ports(runtime, builds)
    return interfaces_for(builds.ports)


async def mark_ports_active(session: AsyncSession, builds: PortBuilds) -> None:
    """``BUILD`` → ``ACTIVE`` for ports the backend has built, in the caller's transaction (a
    port deleted or changed meanwhile is left as it is)."""
    for port in builds.ports:
        await repository.compare_and_set(
            session,
            Port,
            port.id,
            expect={"status": PortStatus.BUILD.value},
            values={"status": PortStatus.ACTIVE.value},
        )


def interfaces_for(ports: Sequence[Port]) -> tuple[InterfaceSpec, ...]:
    """The ``ServerSpec.interfaces`` of a server with these ports, in the same order."""
    return tuple(
        InterfaceSpec(
            port_id=port.id,
            network_id=port.network_id,
            mac=port.mac,
            fixed_ips=tuple(port.fixed_ips),
        )
        for port in ports
    )


@dataclass(slots=True)
class ReleasedPorts:
    """What ``release_server_ports`` changed (the leak sweep audits it)."""

    deleted: list[Port] = field(default_factory=list)
    unbound: list[Port] = field(default_factory=list)
    disassociated: list[FloatingIp] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.deleted or self.unbound or self.disassociated)


@dataclass(slots=True)
class BackendPortDeletes:
    """What ``delete_made_ports_on_backend`` did: the ports the backend no longer holds, and
    the reason each of the others could not be deleted."""

    gone: frozenset[str] = frozenset()
    failed: dict[str, str] = field(default_factory=dict)


async def made_port_ids(session: AsyncSession, server_id: str) -> list[str]:
    """The ids of the live ports made for server ``server_id`` (``device_owner = "compute"``)."""
    rows = await session.scalars(
        select(Port.id)
        .where(
            Port.device_id == server_id,
            Port.device_owner == DeviceOwner.SERVER.value,
            Port.deleted_key == LIVE,
        )
        .order_by(Port.created_at, Port.id)
    )
    return list(rows.all())


def made_port_ids_of(builds: PortBuilds) -> list[str]:
    """The ids of the loaded ports that were made for their server (not given to it)."""
    return [port.id for port in builds.ports if port.made_for_its_server]


async def delete_made_ports_on_backend(
    runtime: Runtime, port_ids: Sequence[str]
) -> BackendPortDeletes:
    """Delete these ports on the backend, one by one; call it outside any session.

    The backend's ``delete_port`` is idempotent by id (an unknown port succeeds) and removes
    any floating-IP mapping onto the port, so a repeated server delete repeats this safely. A
    ``DriverError`` on one port is recorded in ``failed`` and the others still go.
    """
    gone: set[str] = set()
    failed: dict[str, str] = {}
    for port_id in port_ids:
        try:
            await runtime.driver.delete_port(port_id)
        except DriverError as exc:
            failed[port_id] = str(exc) or exc.code
        else:
            gone.add(port_id)
    return BackendPortDeletes(gone=frozenset(gone), failed=failed)


async def release_server_ports(
    session: AsyncSession,
    runtime: Runtime,
    server_id: str,
    *,
    gone_on_backend: Collection[str] = frozenset(),
) -> ReleasedPorts:
    """On server delete: delete the ports made for it, unbind the ports it was given, and
    disassociate their floating IPs (they stay allocated to the project). Idempotent.

    Ports in ``gone_on_backend`` (already deleted there by ``delete_made_ports_on_backend``)
    are finished here: marked deleted, their addresses freed and their floating IPs cleared,
    with no operation of their own. Any other port made for the server is hidden and gets a
    port ``delete`` operation (run after commit; a failure there leaves its addresses held
    for the leak sweep to retry). Call it in the transaction that marks the server deleted.
    """
    released = ReleasedPorts()
    ports = await _lock_live_ports(session, server_id)
    kept = [port for port in ports if not port.made_for_its_server]
    released.disassociated = await _disassociate_from(session, runtime, kept)
    for port in kept:
        _unbind(port)
        released.unbound.append(port)
    made = [port for port in ports if port.made_for_its_server]
    for port in made:
        if port.id in gone_on_backend:
            deleted = await _finish_deleted_port(session, port)
        else:
            deleted = await remove_port(session, runtime, None, port)
        if deleted:
            released.deleted.append(port)
    await session.flush()
    return released


async def _lock_live_ports(session: AsyncSession, server_id: str) -> list[Port]:
    rows = await session.scalars(
        select(Port)
        .where(Port.device_id == server_id, Port.deleted_key == LIVE)
        .order_by(Port.created_at, Port.id)
        .with_for_update()
    )
    return list(rows.all())


async def _finish_deleted_port(session: AsyncSession, port: Port) -> bool:
    """Mark a port the backend no longer holds deleted and free its addresses; False when it
    was already deleted (its addresses are then left to whoever deleted it)."""
    if not await hide_port(session, port):
        return False
    await release_port_addresses(session, port.id)
    return True


async def _disassociate_from(
    session: AsyncSession, runtime: Runtime, ports: Sequence[Port]
) -> list[FloatingIp]:
    """Start removing floating-IP mappings onto ports that survive the server."""
    if not ports:
        return []
    floating_ips = list(
        (
            await session.scalars(
                select(FloatingIp).where(
                    FloatingIp.port_id.in_([port.id for port in ports]),
                    FloatingIp.deleted_key == LIVE,
                )
            )
        ).all()
    )
    for floating_ip in floating_ips:
        # An association still in flight sees its task replaced and undoes its own mapping.
        await session.execute(
            update(FloatingIp)
            .where(FloatingIp.id == floating_ip.id)
            .values(task_state=FloatingIpTask.DISASSOCIATING.value, updated_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        await start_operation(
            session,
            runtime,
            None,
            action="disassociate",
            resource_type="floating_ip",
            resource_id=floating_ip.id,
        )
    return floating_ips


async def _check_requests(
    session: AsyncSession, principal: Principal, requests: Sequence[NetworkRequest]
) -> list[Port | tuple[Network, str | None]]:
    planned: list[Port | tuple[Network, str | None]] = []
    given: set[str] = set()
    for index, request in enumerate(requests):
        if request.port_id is not None:
            if request.port_id in given:
                raise ValidationFailed(
                    f"port {request.port_id} is given twice", field=f"body.networks.{index}"
                )
            given.add(request.port_id)
            port = await get_port(session, principal, request.port_id, lock=RowLock.UPDATE)
            if port.device_id is not None:
                raise Conflict(
                    f"port {port.id} is already bound to {port.device_id}",
                    status=port.status,
                    device_id=port.device_id,
                )
            planned.append(port)
            continue
        assert request.network_id is not None
        network = await get_usable_network(session, principal, request.network_id)
        fixed_ip = None
        if request.fixed_ip is not None:
            fixed_ip = check_requested_ip(
                network, request.fixed_ip, field=f"body.networks.{index}.fixed_ip"
            )
        planned.append((network, fixed_ip))
    return planned


def _bind(port: Port, server_id: str) -> Port:
    port.device_id = server_id
    port.device_owner = DeviceOwner.ATTACHED.value
    if port.status == PortStatus.DOWN.value:
        port.status = PortStatus.ACTIVE.value
    port.updated_at = utcnow()
    return port


def _unbind(port: Port) -> None:
    port.device_id = None
    port.device_owner = None
    if port.status == PortStatus.ACTIVE.value:
        port.status = PortStatus.DOWN.value
    port.updated_at = utcnow()

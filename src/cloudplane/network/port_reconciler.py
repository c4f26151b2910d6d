"""Repairs ports the backend lost or whose rules it changed.

A network deleted behind cloudplane's back (``virsh net-destroy`` and ``net-undefine``, the
cloud's own console) takes every port on it along, yet its ports would stay ``ACTIVE`` or
``DOWN`` in the database while their servers lost their addresses. The database is the record
of what should exist and a port holds no data, so each port missing from the backend's listing
is created again as it was (same MAC, fixed IPs and rules), its network first: both calls are
idempotent by id. A guest gets its link back when its interface is plugged again, at its next
start or hard reboot. Likewise, where the backend applies security groups, a port whose rules
there are not the rules of its groups (a firewall edited by hand) gets an
``apply_security_groups`` operation, which pushes the rules as they are when it runs (a rule
changed during the round may so be pushed twice, which changes nothing).

Only built ports (``ACTIVE`` or ``DOWN``) last changed before the backend's report are compared:
a port still being built is its operation's business. A port deleted while it was being built
again is removed from the backend again. The driver's listing is complete or raises; a round
whose listing failed repairs nothing. Each repair gets an audit record (``request_id``
``reconciler``).
"""

from __future__ import annotations

from collections.abc import Mapping

from cloudplane.audit.repairs import RECONCILER, record_repair
from cloudplane.drivers.capabilities import Capability
from cloudplane.drivers.errors import DriverError
from cloudplane.drivers.network_contract import PortInfo
from cloudplane.kit.batch_walk import live_statuses, walk_in_batches
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.kit.logging import get_logger
from cloudplane.network import repository
from cloudplane.network.floating_ip_reconciler import reconcile_floating_ips
from cloudplane.network.group_peers import reconcile_group_peers
from cloudplane.network.models import Port
from cloudplane.network.port_building import build_ports_on_backend
from cloudplane.network.port_service import APPLY_SECURITY_GROUPS, RESOURCE
from cloudplane.network.schemas import PortStatus
from cloudplane.operations.service import start_operation
from cloudplane.runtime import Runtime

log = get_logger(__name__)

_BUILT = (PortStatus.ACTIVE.value, PortStatus.DOWN.value)


async def reconcile_ports_job(runtime: Runtime) -> None:
    """The periodic form of ``reconcile_ports``, and of ``reconcile_floating_ips`` (which
    needs the ports built) and ``reconcile_group_peers`` after it."""
    await reconcile_ports(runtime)
    await reconcile_floating_ips(runtime)
    await reconcile_group_peers(runtime)


async def reconcile_ports(runtime: Runtime, *, batch_size: int = 200) -> int:
    """One full comparison; returns how many ports it repaired.

    Live rows are walked in batches of ``batch_size`` along the primary key
    (``walk_in_batches``). A port whose building fails is logged and tried again next round.
    """
    reported_at = utcnow()
    try:
        reported = {port.id: port for port in await runtime.driver.list_ports()}
    except DriverError as exc:
        log.warning("port_reconcile_skipped", reason=str(exc) or exc.code)
        return 0
    compare_rules = Capability.SECURITY_GROUPS in runtime.driver.capabilities
    lost: list[str] = []
    drifted: list[str] = []
    batches = walk_in_batches(
        runtime.sessions, live_statuses(Port.__table__), batch_size=batch_size
    )
    async for rows in batches:
        settled = [
            port_id
            for port_id, status, updated_at in rows
            if status in _BUILT and updated_at < reported_at
        ]
        lost.extend(port_id for port_id in settled if port_id not in reported)
        if compare_rules:
            present = [port_id for port_id in settled if port_id in reported]
            drifted.extend(await _rules_changed(runtime, present, reported))
    repaired = 0
    for port_id in lost:
        try:
            repaired += await _build_again(runtime, port_id)
        except DriverError as exc:
            log.warning("port_rebuild_failed", port_id=port_id, reason=str(exc) or exc.code)
    for port_id in drifted:
        repaired += await _apply_rules_again(runtime, port_id)
    return repaired


async def _build_again(runtime: Runtime, port_id: str) -> int:
    """Build the port (and its network) on the backend; 1 if it is still live afterwards."""
    built = await build_ports_on_backend(runtime, [port_id])
    if not built:
        return 0  # deleted before it was read
    async with unit_of_work(runtime.sessions, write=True) as session:
        port = await repository.get_row(session, Port, port_id)
        if port is not None:
            record_repair(
                session,
                RECONCILER,
                action="reconcile.rebuild_port",
                resource_type="ports",
                resource_id=port.id,
                project_id=port.project_id,
            )
    if port is None:
        # Deleted while it was being built: its delete may have reached the backend first.
        await runtime.driver.delete_port(port_id)
        return 0
    log.warning("port_rebuilt", port_id=port_id, network_id=port.network_id)
    return 1


async def _rules_changed(
    runtime: Runtime, port_ids: list[str], reported: Mapping[str, PortInfo]
) -> list[str]:
    """Those of ``port_ids`` whose rules on the backend are not their groups' rules (in any
    order: the backend need not keep it)."""
    async with unit_of_work(runtime.sessions) as session:
        wanted = await repository.rules_of_ports(session, port_ids)
    return [
        port_id
        for port_id in port_ids
        if set(wanted[port_id]) != set(reported[port_id].security_rules)
    ]


async def _apply_rules_again(runtime: Runtime, port_id: str) -> int:
    """Start an ``apply_security_groups`` operation for the port; 1 if it is still live."""
    async with unit_of_work(runtime.sessions, write=True) as session:
        port = await repository.get_row(session, Port, port_id)
        if port is None:
            return 0
        await start_operation(
            session,
            runtime,
            None,
            action=APPLY_SECURITY_GROUPS,
            resource_type=RESOURCE,
            resource_id=port_id,
        )
        record_repair(
            session,
            RECONCILER,
            action="reconcile.reapply_port_rules",
            resource_type="ports",
            resource_id=port_id,
            project_id=port.project_id,
        )
    log.warning("port_rules_changed_on_backend", port_id=port_id)
    return 1

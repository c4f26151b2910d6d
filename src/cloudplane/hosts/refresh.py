"""The periodic host check: ask the driver about every host and record what it says."""

from __future__ import annotations

from sqlalchemy import select

from cloudplane.compute.host_outage import mark_servers_unknown
from cloudplane.drivers.host_inventory import HostInventory, HostReport
from cloudplane.hosts.models import Host
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.kit.logging import get_logger
from cloudplane.runtime import Runtime

log = get_logger(__name__)

UP = "up"
DOWN = "down"


async def refresh_hosts(runtime: Runtime) -> None:
    """Register new hosts, update capacity and state, and mark a silent host's servers unknown.

    Does nothing on a driver without hosts. A host is registered by its URI the first time the
    driver reports it, so the configured ``CLOUDPLANE_LIBVIRT_HOSTS`` appear on the first run.
    """
    driver = runtime.driver
    if not isinstance(driver, HostInventory):
        return
    reports = await driver.report_hosts()
    async with unit_of_work(runtime.sessions, write=True) as session:
        known = {
            host.uri: host
            for host in (
                await session.scalars(select(Host).where(Host.uri.in_([r.uri for r in reports])))
            ).all()
        }
        for report in reports:
            host = known.get(report.uri)
            if host is None:
                host = Host(uri=report.uri, state=DOWN)
                session.add(host)
            went_down = host.state == UP and not report.up
            _apply(host, report)
            if not report.up and host.name is not None:
                changed = await mark_servers_unknown(session, host.name)
                if went_down or changed:
                    log.warning(
                        "host_down", uri=report.uri, error=report.error, servers_unknown=changed
                    )


def _apply(host: Host, report: HostReport) -> None:
    host.state = UP if report.up else DOWN
    host.error = None if report.up else (report.error or "the host does not answer")[:1024]
    if report.name is not None:
        host.name = report.name
    if report.up:
        host.vcpus = report.vcpus
        host.memory_mb = report.memory_mb
        host.free_memory_mb = report.free_memory_mb
        host.last_seen_at = utcnow()

"""Choosing the Nova flavor for a server's size (blocking; run through ``CloudCalls``)."""

from __future__ import annotations

from typing import Any

from cloudplane.drivers.errors import DriverError


def pick_flavor(conn: Any, vcpus: int, ram_mb: int, disk_gb: int) -> Any:
    """The flavor with exactly this size, else the smallest one that holds it.

    cloudplane's catalogue is imported from the cloud, so an exact match is the usual case;
    the fallback serves flavors made in cloudplane by hand. None fitting is
    ``DriverError(code="no_flavor")``.
    """
    fitting = [
        flavor
        for flavor in conn.compute.flavors(details=True)
        if not flavor.is_disabled
        and flavor.vcpus >= vcpus
        and flavor.ram >= ram_mb
        and flavor.disk >= disk_gb
    ]
    if not fitting:
        raise DriverError(
            f"the cloud has no flavor with {vcpus} vCPUs, {ram_mb} MB RAM and {disk_gb} GB disk",
            code="no_flavor",
        )
    return min(fitting, key=lambda f: (f.ram, f.vcpus, f.disk, str(f.id)))

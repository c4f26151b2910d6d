"""Builds the compute driver the settings name; the one place that knows every backend."""

from __future__ import annotations

from typing import assert_never

from cloudplane.drivers.contract import Driver
from cloudplane.drivers.simulator import SimulatorDriver
from cloudplane.settings import Settings


def build_driver(settings: Settings) -> Driver:
    """Return an unopened driver for ``settings.driver``; the caller opens and closes it.

    Raises ``ValueError`` for a backend that is not available in this build.
    """
    match settings.driver:
        case "simulator":
            return SimulatorDriver(
                settings.simulator_dir,
                latency_ms=settings.simulator_latency_ms,
                fail=settings.simulator_fail,
            )
        case "libvirt":
            return _libvirt_driver(settings)
        case "openstack":
            raise ValueError(
                f"the {settings.driver} driver is not available yet; "
                "set CLOUDPLANE_DRIVER=simulator"
            )
        case _:
            assert_never(settings.driver)


def _libvirt_driver(settings: Settings) -> Driver:
    # Imported here: libvirt-python is an optional extra, needed only when this driver is chosen.
    try:
        from cloudplane.drivers.libvirt.driver import LibvirtDriver
        from cloudplane.drivers.libvirt.fleet import LibvirtFleet
        from cloudplane.drivers.libvirt.options import LibvirtOptions
    except ImportError as exc:
        raise ValueError(
            "the libvirt driver needs libvirt-python: install cloudplane[libvirt]"
        ) from exc
    uris = settings.libvirt_uris
    if not uris:
        raise ValueError("CLOUDPLANE_LIBVIRT_HOSTS names no libvirt URI")
    hosts = [
        LibvirtDriver(
            LibvirtOptions(
                uri=uri,
                state_dir=settings.libvirt_dir,
                name_prefix=settings.libvirt_name_prefix,
                virt_type=settings.libvirt_virt_type,
                shutdown_timeout_s=settings.libvirt_shutdown_timeout_s,
            ),
            nat_networks=settings.libvirt_nat_networks,
        )
        for uri in uris
    ]
    return hosts[0] if len(hosts) == 1 else LibvirtFleet(hosts)

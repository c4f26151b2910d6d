"""Builds the compute driver the settings name; the one place that knows every backend."""

from __future__ import annotations

from typing import assert_never

from cloudplane.drivers.contract import Driver
from cloudplane.drivers.simulator import SimulatorDriver
from cloudplane.settings import Settings


def build_driver(settings: Settings) -> Driver:
    """Return an unopened driver for ``settings.driver``; the caller opens and closes it.

    Raises ``ValueError`` for a backend whose optional library is not installed or whose
    settings are incomplete.
    """
    match settings.driver:
        case "simulator":
            return SimulatorDriver(
                settings.simulator_dir,
                latency_ms=settings.simulator_latency_ms,
                fail=settings.simulator_fail,
                # With a broker, API replicas and workers share one simulator directory.
                shared=settings.broker_url is not None,
            )
        case "openstack":
            return _openstack_driver(settings)
        case "libvirt":
            return _libvirt_driver(settings)
        case _:
            assert_never(settings.driver)


def _openstack_driver(settings: Settings) -> Driver:
    try:
        from cloudplane.drivers.openstack.connection import OpenStackOptions
        from cloudplane.drivers.openstack.driver import OpenStackDriver
    except ImportError as exc:  # the optional extra is missing
        raise ValueError(
            "the openstack driver needs openstacksdk: install cloudplane[openstack]"
        ) from exc
    return OpenStackDriver(
        OpenStackOptions(
            cloud=settings.openstack_cloud,
            clouds_yaml=settings.openstack_clouds_yaml,
            call_timeout_s=settings.openstack_call_timeout_s,
            retries=settings.openstack_retries,
            retry_backoff_s=settings.openstack_retry_backoff_s,
            wait_timeout_s=settings.openstack_wait_timeout_s,
            poll_interval_s=settings.openstack_poll_interval_s,
            default_image=settings.openstack_default_image,
            external_network=settings.openstack_external_network,
            full_sync_interval_s=settings.openstack_full_sync_interval_s,
        )
    )


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

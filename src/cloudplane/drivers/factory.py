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
        case "openstack":
            return _openstack_driver(settings)
        case "libvirt":
            raise ValueError(
                f"the {settings.driver} driver is not available yet; "
                "set CLOUDPLANE_DRIVER=simulator"
            )
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

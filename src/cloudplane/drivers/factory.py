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
        case "libvirt" | "openstack":
            raise ValueError(
                f"the {settings.driver} driver is not available yet; "
                "set CLOUDPLANE_DRIVER=simulator"
            )
        case _:
            assert_never(settings.driver)

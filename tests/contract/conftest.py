"""The ``driver`` fixture: every contract test runs once per driver in ``DRIVER_FACTORIES``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from cloudplane.drivers.base import ComputeDriver
from cloudplane.drivers.simulator import SimulatorDriver
from tests.openstack_cloud.drivers import openstack_driver

#: Builds an unopened driver; its argument is a fresh directory the driver may use.
DriverFactory = Callable[[Path], ComputeDriver]


def simulator_driver(scratch_dir: Path) -> ComputeDriver:
    return SimulatorDriver(scratch_dir / "simulator")


# Adding a backend to the contract suite is one entry here.
DRIVER_FACTORIES: dict[str, DriverFactory] = {
    "simulator": simulator_driver,
    "openstack": openstack_driver,
}


@pytest.fixture(params=sorted(DRIVER_FACTORIES))
async def driver(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ComputeDriver]:
    """An opened driver, closed again after the test."""
    compute_driver = DRIVER_FACTORIES[request.param](tmp_path)
    await compute_driver.open()
    try:
        yield compute_driver
    finally:
        await compute_driver.close()

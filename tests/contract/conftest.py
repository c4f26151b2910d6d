"""The ``driver`` fixture: every contract test runs once per driver in ``DRIVER_FACTORIES``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import libvirt
import pytest

from cloudplane.drivers.base import Capability, ComputeDriver
from cloudplane.drivers.libvirt.driver import LibvirtDriver
from cloudplane.drivers.libvirt.options import LibvirtOptions
from cloudplane.drivers.simulator import SimulatorDriver
from tests.openstack_cloud.drivers import openstack_driver
from tests.support.libvirt_hosts import (
    REAL_URI,
    TEST_PREFIX,
    TEST_URI,
    objects_named,
    prefix_for,
    qemu_scratch_dir,
    real_connection,
    remove_scratch,
    remove_session_scratch,
    remove_test_objects,
)

#: Builds an unopened driver; its argument is a fresh directory the driver may use.
DriverFactory = Callable[[Path], ComputeDriver]

# libvirt's test hypervisor keeps its state only while a connection to it is open. A real host
# outlives any one driver, so this connection plays the host for the whole session.
_test_hypervisor: list[libvirt.virConnect] = []


def simulator_driver(scratch_dir: Path) -> ComputeDriver:
    return SimulatorDriver(scratch_dir / "simulator")


def libvirt_test_driver(scratch_dir: Path) -> ComputeDriver:
    """libvirt's in-process test hypervisor: tier (a), no daemon."""
    if not _test_hypervisor:
        _test_hypervisor.append(libvirt.open(TEST_URI))
    options = LibvirtOptions(
        uri=TEST_URI, state_dir=scratch_dir / "libvirt", name_prefix=prefix_for(scratch_dir)
    )
    return LibvirtDriver(options)


def libvirt_qemu_driver(scratch_dir: Path) -> ComputeDriver:
    """The real daemon with QEMU emulation: tier (b)."""
    real_connection().close()  # fails in CI, skips elsewhere, when libvirtd is not running
    options = LibvirtOptions(
        uri=REAL_URI,
        state_dir=scratch_dir / "libvirt",
        name_prefix=prefix_for(scratch_dir),
        virt_type="qemu",
        shutdown_timeout_s=0.5,  # the guests here have no ACPI handler: do not wait long
    )
    return LibvirtDriver(options)


# Adding a backend to the contract suite is one entry here.
DRIVER_FACTORIES: dict[str, DriverFactory] = {
    "simulator": simulator_driver,
    "openstack": openstack_driver,
    "libvirt-test": libvirt_test_driver,
    "libvirt-qemu": libvirt_qemu_driver,
}

# What each entry declares, so a test marked ``needs``/``lacks`` is generated only where it
# applies; the ``driver`` fixture checks each declaration against the driver itself.
DRIVER_CAPABILITIES: dict[str, frozenset[Capability]] = {
    "simulator": frozenset(Capability),
    "openstack": frozenset(Capability) - {Capability.VOLUME_DATA},
    "libvirt-test": frozenset(
        {Capability.CONSOLE, Capability.PAUSE, Capability.SNAPSHOTS, Capability.SOFT_REBOOT}
    ),
    "libvirt-qemu": frozenset(Capability),
}

# Suites a backend entry does not run, and why; another entry of the same driver covers them.
SUITES_COVERED_ELSEWHERE: dict[str, frozenset[str]] = {
    # The test hypervisor has no hot-plug and no resize, which the storage suites need; the
    # same driver runs them on the real daemon below.
    "libvirt-test": frozenset({"test_storage_driver_contract", "test_storage_attachment_contract"}),
    # Compute runs on the test hypervisor above, and the real boot, power and console tests
    # live in tests/libvirt_real, so real QEMU processes run only where needed. Networking runs
    # here too: the test hypervisor has no network filters, so no security groups.
    "libvirt-qemu": frozenset({"test_compute_driver_contract"}),
}

# Removes what a test left on a libvirt host (its servers keep QEMU processes running).
_CLEANUPS: dict[str, Callable[[Path], None]] = {
    "libvirt-qemu": lambda scratch_dir: _remove_from_real_host(prefix_for(scratch_dir)),
}


def _remove_from_real_host(prefix: str) -> None:
    connection = real_connection()
    try:
        remove_test_objects(connection, prefix)
    finally:
        connection.close()


def remove_what_it_left(name: str, scratch_dir: Path) -> None:
    """Remove what a test of backend entry ``name`` made in ``scratch_dir`` on its host, so the
    next test finds the host as it was (a real network's subnet free again, say)."""
    cleanup = _CLEANUPS.get(name)
    if cleanup is not None:
        cleanup(scratch_dir)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "driver" in metafunc.fixturenames:
        suite = metafunc.module.__name__.rsplit(".", 1)[-1]
        needed = {c for mark in metafunc.definition.iter_markers("needs") for c in mark.args}
        lacking = {c for mark in metafunc.definition.iter_markers("lacks") for c in mark.args}
        names = [
            name
            for name in sorted(DRIVER_FACTORIES)
            if suite not in SUITES_COVERED_ELSEWHERE.get(name, frozenset())
            and needed <= DRIVER_CAPABILITIES[name]
            and not lacking & DRIVER_CAPABILITIES[name]
        ]
        metafunc.parametrize("driver", names, indirect=True)


@pytest.fixture
def tmp_path(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A scratch directory QEMU can reach too (the real backend opens volumes made in it)."""
    path = qemu_scratch_dir(request.node.nodeid)
    yield path
    remove_scratch(path)


@pytest.fixture
async def driver(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ComputeDriver]:
    """An opened driver, closed again after the test."""
    compute_driver = DRIVER_FACTORIES[request.param](tmp_path)
    assert compute_driver.capabilities == DRIVER_CAPABILITIES[request.param]
    await compute_driver.open()
    try:
        yield compute_driver
    finally:
        await compute_driver.close()
        remove_what_it_left(request.param, tmp_path)


@pytest.fixture(scope="session", autouse=True)
def no_libvirt_objects_left() -> Iterator[None]:
    """After the session, nothing named with this session's prefix is left on the real host."""
    yield
    while _test_hypervisor:
        _test_hypervisor.pop().close()
    remove_session_scratch()
    if not Path("/run/libvirt/libvirt-sock").exists():
        return  # the real host never ran, so there is nothing on it to check
    connection = libvirt.open(REAL_URI)
    try:
        remove_test_objects(connection, TEST_PREFIX)
        assert objects_named(connection, TEST_PREFIX) == []
    finally:
        connection.close()

"""Tier (b): the libvirt driver against the real daemon, with real QEMU (TCG) guests.

Without libvirtd these tests fail in CI and skip on a developer's machine. Everything they make
is named with this session's test prefix and removed again; the session ends by proving that no
domain, volume, pool, network or QEMU process of it is left.
"""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import libvirt
import pytest

from cloudplane.drivers.libvirt.driver import LibvirtDriver
from cloudplane.drivers.libvirt.options import LibvirtOptions
from cloudplane.images.tiny_image import ImageFile, build_tiny_image
from tests.libvirt_real.namespaces import Namespace, remove
from tests.support.libvirt_hosts import (
    QEMU_SCRATCH_ROOT,
    REAL_URI,
    TEST_PREFIX,
    let_qemu_reach,
    objects_named,
    prefix_for,
    qemu_scratch_dir,
    real_connection,
    remove_scratch,
    remove_session_scratch,
    remove_test_objects,
)

SHUTDOWN_TIMEOUT_S = 1.0
"""The tiny image has no ACPI handler, so every graceful stop runs into this and is forced."""


def qemu_processes(prefix: str) -> list[str]:
    """Command lines of QEMU processes running a domain whose name starts with ``prefix``."""
    found = subprocess.run(
        ["pgrep", "-af", f"guest={prefix}"], capture_output=True, text=True, check=False
    )
    return [line for line in found.stdout.splitlines() if "qemu-system" in line]


@pytest.fixture(scope="session")
def host() -> Iterator[libvirt.virConnect]:
    """The real daemon; after the session nothing of this session may be left on it."""
    connection = real_connection()
    try:
        yield connection
        remove_test_objects(connection, TEST_PREFIX)
        assert objects_named(connection, TEST_PREFIX) == []
        assert qemu_processes(TEST_PREFIX) == []
    finally:
        remove_session_scratch()
        assert not (QEMU_SCRATCH_ROOT / TEST_PREFIX.rstrip("-")).exists()
        connection.close()


@pytest.fixture
def tmp_path(request: pytest.FixtureRequest) -> Iterator[Path]:
    """A scratch directory QEMU can reach: disks, pools and images of the test live in it."""
    path = qemu_scratch_dir(request.node.nodeid)
    yield path
    remove_scratch(path)


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "libvirt"
    directory.mkdir()
    let_qemu_reach(directory)
    return directory


@pytest.fixture
async def driver(
    host: libvirt.virConnect, state_dir: Path, tmp_path: Path
) -> AsyncIterator[LibvirtDriver]:
    options = LibvirtOptions(
        uri=REAL_URI,
        state_dir=state_dir,
        name_prefix=prefix_for(tmp_path),
        virt_type="qemu",
        shutdown_timeout_s=SHUTDOWN_TIMEOUT_S,
    )
    libvirt_driver = LibvirtDriver(options)
    await libvirt_driver.open()
    try:
        yield libvirt_driver
    finally:
        await libvirt_driver.close()
        remove_test_objects(host, options.name_prefix)


@pytest.fixture
def tiny_image(state_dir: Path) -> ImageFile:
    """The seeded image, built as the seed builds it."""
    return build_tiny_image(state_dir / "tiny.qcow2")


@pytest.fixture
def namespaces() -> Iterator[list[Namespace]]:
    """Network namespaces a traffic test makes (``namespaces.new_namespace``), removed after
    it with what runs in them (a namespace lives while a process does, and its links with
    it)."""
    made: list[Namespace] = []
    yield made
    for namespace in made:
        remove(namespace)


@pytest.fixture
def bindings(host: libvirt.virConnect) -> Iterator[list[str]]:
    """Links a traffic test binds port filters to (``namespaces.bind_filter``); the bindings
    go before the filters can."""
    bound: list[str] = []
    yield bound
    for link in bound:
        host.nwfilterBindingLookupByPortDev(link).delete()

"""Real QEMU guests booted from the seeded tiny image, driven through every power operation."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from urllib.parse import urlsplit

import libvirt
import pytest

from cloudplane.drivers.base import ImageRef, PowerState, RebootKind, ServerSpec
from cloudplane.drivers.errors import ServerNotFound
from cloudplane.drivers.libvirt.domain_xml import console_log_path
from cloudplane.drivers.libvirt.driver import LibvirtDriver
from cloudplane.images.tiny_image import TINY_IMAGE_CONSOLE_LINE, ImageFile
from tests.libvirt_real.conftest import SHUTDOWN_TIMEOUT_S, qemu_processes
from tests.libvirt_real.waiting import console_lines, eventually


def tiny_server(image: ImageFile) -> ServerSpec:
    return ServerSpec(
        id=str(uuid.uuid4()),
        name="real-tier",
        vcpus=1,
        ram_mb=64,
        disk_gb=1,
        image=ImageRef(
            id="tiny",
            disk_format="qcow2",
            path=str(image.path),
            size_bytes=image.size_bytes,
            checksum_sha256=image.checksum_sha256,
        ),
    )


def console_log_of(host: libvirt.virConnect, driver: LibvirtDriver, server_id: str) -> str:
    domain = host.lookupByName(driver.options.domain_name(server_id))
    path = console_log_path(domain.XMLDesc(0))
    assert path is not None
    return path


async def booted_times(host: libvirt.virConnect, driver: LibvirtDriver, server_id: str) -> int:
    return await console_lines(console_log_of(host, driver, server_id), TINY_IMAGE_CONSOLE_LINE)


def domain_state(host: libvirt.virConnect, driver: LibvirtDriver, server_id: str) -> int:
    state, _reason = host.lookupByName(driver.options.domain_name(server_id)).state()
    return int(state)


async def test_a_server_boots_the_tiny_image_and_prints_its_line_on_the_serial_console(
    driver: LibvirtDriver, host: libvirt.virConnect, tiny_image: ImageFile
) -> None:
    spec = tiny_server(tiny_image)

    created = await driver.create_server(spec)

    assert created.power_state is PowerState.RUNNING
    assert await eventually(lambda: booted_times(host, driver, spec.id), lambda n: n == 1) == 1
    domain = host.lookupByName(driver.options.domain_name(spec.id))
    assert domain.isPersistent()
    assert len(qemu_processes(driver.options.domain_name(spec.id))) == 1


async def test_the_console_is_vnc_on_loopback_and_answers_with_the_rfb_greeting(
    driver: LibvirtDriver, tiny_image: ImageFile
) -> None:
    spec = tiny_server(tiny_image)
    await driver.create_server(spec)

    console = await driver.get_console(spec.id)

    assert console.type == "vnc"
    assert console.url is not None
    address = urlsplit(console.url)
    assert address.hostname == "127.0.0.1"
    assert address.port is not None

    def greeting() -> bytes:
        with socket.create_connection(("127.0.0.1", address.port or 0), timeout=5) as vnc:
            return vnc.recv(12)

    assert (await asyncio.to_thread(greeting)).startswith(b"RFB ")


async def test_stop_falls_back_to_force_after_the_timeout_and_start_boots_again(
    driver: LibvirtDriver, host: libvirt.virConnect, tiny_image: ImageFile
) -> None:
    spec = tiny_server(tiny_image)
    await driver.create_server(spec)
    await eventually(lambda: booted_times(host, driver, spec.id), lambda n: n == 1)

    began = time.monotonic()
    stopped = await driver.stop_server(spec.id, timeout_s=30)
    took = time.monotonic() - began

    assert stopped.power_state is PowerState.SHUTDOWN
    assert domain_state(host, driver, spec.id) == libvirt.VIR_DOMAIN_SHUTOFF
    assert SHUTDOWN_TIMEOUT_S <= took < 15  # waited for ACPI, then forced; not the 30 s asked
    assert qemu_processes(driver.options.domain_name(spec.id)) == []

    started = await driver.start_server(spec.id)

    assert started.power_state is PowerState.RUNNING
    await eventually(lambda: booted_times(host, driver, spec.id), lambda n: n == 2)


async def test_pause_resume_and_both_reboots_act_on_the_real_guest(
    driver: LibvirtDriver, host: libvirt.virConnect, tiny_image: ImageFile
) -> None:
    spec = tiny_server(tiny_image)
    await driver.create_server(spec)
    await eventually(lambda: booted_times(host, driver, spec.id), lambda n: n == 1)

    assert (await driver.pause_server(spec.id)).power_state is PowerState.PAUSED
    assert domain_state(host, driver, spec.id) == libvirt.VIR_DOMAIN_PAUSED
    assert (await driver.resume_server(spec.id)).power_state is PowerState.RUNNING
    assert domain_state(host, driver, spec.id) == libvirt.VIR_DOMAIN_RUNNING

    await driver.reboot_server(spec.id, RebootKind.HARD)
    await eventually(lambda: booted_times(host, driver, spec.id), lambda n: n == 2)

    soft = await driver.reboot_server(spec.id, RebootKind.SOFT)
    assert soft.power_state is PowerState.RUNNING  # the guest ignores ACPI: it keeps running

    await driver.stop_server(spec.id)
    await driver.reboot_server(spec.id, RebootKind.HARD)  # a hard reboot starts a stopped one
    await eventually(lambda: booted_times(host, driver, spec.id), lambda n: n == 3)


async def test_delete_leaves_no_domain_process_disk_or_console_log(
    driver: LibvirtDriver, host: libvirt.virConnect, tiny_image: ImageFile
) -> None:
    spec = tiny_server(tiny_image)
    await driver.create_server(spec)
    await eventually(lambda: booted_times(host, driver, spec.id), lambda n: n == 1)
    name = driver.options.domain_name(spec.id)
    log = console_log_of(host, driver, spec.id)
    root_disk = driver.options.disks_dir / driver.options.root_disk_name(spec.id)
    assert root_disk.is_file()

    await driver.delete_server(spec.id)
    await driver.delete_server(spec.id)

    assert name not in [domain.name() for domain in host.listAllDomains(0)]
    assert qemu_processes(name) == []
    assert not root_disk.exists()
    assert not (driver.options.consoles_dir / log).exists()
    with pytest.raises(ServerNotFound):
        await driver.get_server(spec.id)

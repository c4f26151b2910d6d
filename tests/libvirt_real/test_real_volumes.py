"""Volumes on the real daemon: hot-plug into a running tiny server, grow online, copy out."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import libvirt

from cloudplane.drivers.libvirt.driver import LibvirtDriver
from cloudplane.drivers.storage_contract import GIB, VolumeSpec
from cloudplane.images.tiny_image import ImageFile
from tests.libvirt_real.test_real_servers import booted_times, tiny_server
from tests.libvirt_real.waiting import eventually
from tests.support.libvirt_hosts import let_qemu_reach


def live_disk_targets(host: libvirt.virConnect, driver: LibvirtDriver, server_id: str) -> set[str]:
    domain = host.lookupByName(driver.options.domain_name(server_id))
    root = ET.fromstring(domain.XMLDesc(0))
    return {target.get("dev", "") for target in root.iterfind("./devices/disk/target")}


def config_disk_targets(
    host: libvirt.virConnect, driver: LibvirtDriver, server_id: str
) -> set[str]:
    domain = host.lookupByName(driver.options.domain_name(server_id))
    root = ET.fromstring(domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
    return {target.get("dev", "") for target in root.iterfind("./devices/disk/target")}


def virtual_size(path: Path) -> int:
    info = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(json.loads(info.stdout)["virtual-size"])


async def test_a_volume_is_hot_plugged_grown_online_snapshotted_and_unplugged(
    driver: LibvirtDriver, host: libvirt.virConnect, tiny_image: ImageFile, tmp_path: Path
) -> None:
    server = tiny_server(tiny_image)
    await driver.create_server(server)
    await eventually(lambda: booted_times(host, driver, server.id), lambda n: n == 1)
    pool = tmp_path / "pool"
    pool.mkdir()
    let_qemu_reach(pool)
    volume = await driver.create_volume(
        VolumeSpec(id=str(uuid.uuid4()), name="data", size_gb=1, pool_path=str(pool))
    )

    await driver.attach_volume(server.id, volume.id, "vdb")

    assert "vdb" in live_disk_targets(host, driver, server.id)  # in the running guest
    assert "vdb" in config_disk_targets(host, driver, server.id)  # and after a restart

    grown = await driver.extend_volume(volume.id, 2)

    domain = host.lookupByName(driver.options.domain_name(server.id))
    capacity, _allocation, _physical = domain.blockInfo("vdb")  # what `virsh domblkinfo` shows
    assert (grown.size_gb, capacity) == (2, 2 * GIB)

    snapshot_id = str(uuid.uuid4())
    snapshot = await driver.create_snapshot(snapshot_id, volume.id)

    assert snapshot.size_gb == 2
    assert domain.state()[0] == libvirt.VIR_DOMAIN_RUNNING  # paused for the copy, then resumed
    assert virtual_size(pool / driver.options.snapshot_name(snapshot_id)) == 2 * GIB

    await driver.detach_volume(server.id, volume.id)

    assert "vdb" not in config_disk_targets(host, driver, server.id)
    assert (await driver.get_volume(volume.id)).attachment is None


async def test_an_exported_volume_imports_into_another_with_the_same_data(
    driver: LibvirtDriver, tmp_path: Path
) -> None:
    pool = tmp_path / "pool"
    pool.mkdir()
    let_qemu_reach(pool)
    source_id, target_id = str(uuid.uuid4()), str(uuid.uuid4())
    for volume_id in (source_id, target_id):
        await driver.create_volume(
            VolumeSpec(id=volume_id, name="data", size_gb=1, pool_path=str(pool))
        )
    source_file = pool / driver.options.volume_name(source_id)
    write = ["qemu-io", "-c", "write -P 0x5a 0 1M", str(source_file)]
    await asyncio.to_thread(subprocess.run, write, check=True, capture_output=True)

    target_file = pool / driver.options.volume_name(target_id)
    assert _compare(source_file, target_file).returncode == 1  # the data differs before

    exported = tmp_path / "export.qcow2"
    disk_format = await driver.export_volume(source_id, exported)
    await driver.import_volume(target_id, exported, disk_format)

    compared = _compare(source_file, target_file)
    assert disk_format == "qcow2"
    assert compared.returncode == 0, compared.stdout + compared.stderr


def _compare(first: Path, second: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["qemu-img", "compare", str(first), str(second)],
        capture_output=True,
        text=True,
        check=False,
    )

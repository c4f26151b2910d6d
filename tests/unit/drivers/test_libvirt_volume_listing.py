"""The libvirt driver's volume listing is complete or fails (libvirt's test hypervisor)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import libvirt
import pytest
from tests.contract.storage_contract_support import volume_spec
from tests.support.libvirt_hosts import prefix_for, private_test_host

from cloudplane.drivers.errors import DriverError
from cloudplane.drivers.libvirt.driver import LibvirtDriver
from cloudplane.drivers.libvirt.options import LibvirtOptions


@pytest.fixture
def uri(tmp_path: Path) -> str:
    return private_test_host(tmp_path, cpus=2, memory_mib=2048)


@pytest.fixture
async def driver(uri: str, tmp_path: Path) -> AsyncIterator[LibvirtDriver]:
    options = LibvirtOptions(
        uri=uri, state_dir=tmp_path / "state", name_prefix=prefix_for(tmp_path)
    )
    opened = LibvirtDriver(options)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def _host(driver: LibvirtDriver) -> libvirt.virConnect:
    # The test hypervisor's state belongs to one connection: the driver's own.
    return driver._host.get()


async def test_a_stopped_pool_of_ours_is_started_to_list_its_volumes(
    driver: LibvirtDriver, tmp_path: Path
) -> None:
    volume = await driver.create_volume(volume_spec(tmp_path / "pool"))
    (pool,) = _host(driver).listAllStoragePools(0)
    pool.destroy()
    assert not pool.isActive()

    listed = await driver.list_volumes()

    assert [found.id for found in listed] == [volume.id]
    assert pool.isActive()


async def test_a_stopped_pool_of_someone_else_makes_the_listing_fail(
    driver: LibvirtDriver, tmp_path: Path
) -> None:
    # It may hold volumes of ours, which a listing without it would report as gone.
    await driver.create_volume(volume_spec(tmp_path / "pool"))
    _host(driver).storagePoolDefineXML(
        f"<pool type='dir'><name>someone-else</name>"
        f"<target><path>{tmp_path / 'elsewhere'}</path></target></pool>",
        0,
    )

    with pytest.raises(DriverError) as refused:
        await driver.list_volumes()

    assert refused.value.code == "unavailable"
    assert "someone-else" in str(refused.value)

"""Every attach and detach postcondition of ``StorageDriver``, checked against every driver."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cloudplane.drivers.base import ComputeDriver, ServerNotFound
from cloudplane.drivers.contract import Driver
from cloudplane.drivers.errors import DriverError, ResourceNotFound
from tests.contract.storage_contract_support import new_server, volume_spec, whole_driver


@pytest.fixture
def storage(driver: ComputeDriver) -> Driver:
    return whole_driver(driver)


async def test_an_attached_volume_reports_its_server_and_device(
    storage: Driver, tmp_path: Path
) -> None:
    volume = await storage.create_volume(volume_spec(tmp_path))
    server_id = await new_server(storage)

    attachment = await storage.attach_volume(server_id, volume.id, "vdb")

    assert (attachment.volume_id, attachment.server_id, attachment.device) == (
        volume.id,
        server_id,
        "vdb",
    )
    assert (await storage.get_volume(volume.id)).attachment == attachment


async def test_attaching_again_to_the_same_server_returns_the_attachment(
    storage: Driver, tmp_path: Path
) -> None:
    volume = await storage.create_volume(volume_spec(tmp_path))
    server_id = await new_server(storage)
    first = await storage.attach_volume(server_id, volume.id, "vdb")

    assert await storage.attach_volume(server_id, volume.id, "vdc") == first


async def test_a_volume_attached_elsewhere_is_in_use(storage: Driver, tmp_path: Path) -> None:
    volume = await storage.create_volume(volume_spec(tmp_path))
    first_server = await new_server(storage)
    await storage.attach_volume(first_server, volume.id, "vdb")

    with pytest.raises(DriverError) as refused:
        await storage.attach_volume(await new_server(storage), volume.id, "vdb")

    assert refused.value.code == "in_use"
    attachment = (await storage.get_volume(volume.id)).attachment
    assert attachment is not None
    assert attachment.server_id == first_server


async def test_a_device_used_by_another_volume_is_in_use(storage: Driver, tmp_path: Path) -> None:
    server_id = await new_server(storage)
    first = await storage.create_volume(volume_spec(tmp_path))
    second = await storage.create_volume(volume_spec(tmp_path))
    await storage.attach_volume(server_id, first.id, "vdb")

    with pytest.raises(DriverError) as refused:
        await storage.attach_volume(server_id, second.id, "vdb")

    assert refused.value.code == "in_use"
    assert (await storage.get_volume(second.id)).attachment is None


async def test_attaching_to_an_unknown_server_or_an_unknown_volume_is_not_found(
    storage: Driver, tmp_path: Path
) -> None:
    volume = await storage.create_volume(volume_spec(tmp_path))

    with pytest.raises(ServerNotFound):
        await storage.attach_volume(str(uuid.uuid4()), volume.id, "vdb")
    with pytest.raises(ResourceNotFound):
        await storage.attach_volume(await new_server(storage), str(uuid.uuid4()), "vdb")
    assert (await storage.get_volume(volume.id)).attachment is None


async def test_a_detached_volume_reports_no_attachment_and_detach_repeats(
    storage: Driver, tmp_path: Path
) -> None:
    volume = await storage.create_volume(volume_spec(tmp_path))
    server_id = await new_server(storage)
    await storage.attach_volume(server_id, volume.id, "vdb")

    await storage.detach_volume(server_id, volume.id)
    await storage.detach_volume(server_id, volume.id)

    assert (await storage.get_volume(volume.id)).attachment is None


async def test_detaching_from_another_server_leaves_the_attachment(
    storage: Driver, tmp_path: Path
) -> None:
    volume = await storage.create_volume(volume_spec(tmp_path))
    server_id = await new_server(storage)
    await storage.attach_volume(server_id, volume.id, "vdb")

    await storage.detach_volume(await new_server(storage), volume.id)

    attachment = (await storage.get_volume(volume.id)).attachment
    assert attachment is not None
    assert attachment.server_id == server_id


async def test_detaching_from_a_deleted_server_or_an_unknown_volume_succeeds(
    storage: Driver, tmp_path: Path
) -> None:
    volume = await storage.create_volume(volume_spec(tmp_path))
    server_id = await new_server(storage)
    await storage.attach_volume(server_id, volume.id, "vdb")
    await storage.delete_server(server_id)

    await storage.detach_volume(server_id, volume.id)
    await storage.detach_volume(server_id, str(uuid.uuid4()))

    assert (await storage.get_volume(volume.id)).attachment is None

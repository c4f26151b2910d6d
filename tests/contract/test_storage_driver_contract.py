"""Every postcondition of ``StorageDriver``, checked against every driver.

Tests only rely on what ``cloudplane.drivers.storage_contract`` promises. They create volumes,
snapshots and servers with fresh ids and never assume the backend holds nothing else.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cloudplane.drivers.base import Capability, ComputeDriver
from cloudplane.drivers.contract import Driver
from cloudplane.drivers.errors import DriverError, ResourceNotFound, Unsupported
from cloudplane.drivers.storage_contract import GIB, ImageSource
from tests.contract.storage_contract_support import (
    listed_volume_ids,
    new_server,
    volume_spec,
    whole_driver,
)


@pytest.fixture
def storage(driver: ComputeDriver) -> Driver:
    return whole_driver(driver)


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    path = tmp_path / "image.raw"
    path.write_bytes(b"\x00" * 4096)
    return path


def image_source(path: Path, virtual_size_bytes: int) -> ImageSource:
    return ImageSource(
        image_id=str(uuid.uuid4()),
        path=str(path),
        disk_format="raw",
        virtual_size_bytes=virtual_size_bytes,
    )


# --- creating -------------------------------------------------------------------------------


async def test_a_blank_volume_has_its_size_and_no_attachment(
    storage: Driver, tmp_path: Path
) -> None:
    spec = volume_spec(tmp_path, size_gb=3)

    created = await storage.create_volume(spec)

    assert (created.id, created.size_gb, created.bootable) == (spec.id, 3, False)
    assert created.attachment is None
    assert await storage.get_volume(spec.id) == created
    assert spec.id in await listed_volume_ids(storage)


async def test_a_volume_from_an_image_is_bootable_and_names_its_image(
    storage: Driver, tmp_path: Path, image_file: Path
) -> None:
    source = image_source(image_file, virtual_size_bytes=GIB)
    spec = volume_spec(tmp_path, size_gb=1, image=source)

    created = await storage.create_volume(spec)

    assert created.bootable is True
    assert created.source_image_id == source.image_id
    assert created.size_gb == 1


async def test_an_image_larger_than_the_volume_is_refused_and_nothing_is_left(
    storage: Driver, tmp_path: Path, image_file: Path
) -> None:
    spec = volume_spec(tmp_path, size_gb=1, image=image_source(image_file, GIB + 1))

    with pytest.raises(DriverError) as refused:
        await storage.create_volume(spec)

    assert refused.value.code == "too_small"
    with pytest.raises(ResourceNotFound):
        await storage.get_volume(spec.id)


async def test_a_volume_from_a_snapshot_names_its_snapshot(storage: Driver, tmp_path: Path) -> None:
    origin = await storage.create_volume(volume_spec(tmp_path, size_gb=2))
    snapshot_id = str(uuid.uuid4())
    await storage.create_snapshot(snapshot_id, origin.id)

    copy = await storage.create_volume(volume_spec(tmp_path, size_gb=3, snapshot_id=snapshot_id))

    assert copy.source_snapshot_id == snapshot_id
    assert copy.size_gb == 3


async def test_a_volume_smaller_than_its_snapshot_is_refused_and_nothing_is_left(
    storage: Driver, tmp_path: Path
) -> None:
    origin = await storage.create_volume(volume_spec(tmp_path, size_gb=2))
    snapshot_id = str(uuid.uuid4())
    await storage.create_snapshot(snapshot_id, origin.id)
    spec = volume_spec(tmp_path, size_gb=1, snapshot_id=snapshot_id)

    with pytest.raises(DriverError) as refused:
        await storage.create_volume(spec)

    assert refused.value.code == "too_small"
    assert spec.id not in await listed_volume_ids(storage)


async def test_a_volume_from_an_unknown_snapshot_is_not_found(
    storage: Driver, tmp_path: Path
) -> None:
    spec = volume_spec(tmp_path, snapshot_id=str(uuid.uuid4()))

    with pytest.raises(ResourceNotFound):
        await storage.create_volume(spec)

    assert spec.id not in await listed_volume_ids(storage)


async def test_creating_an_existing_volume_again_returns_it_unchanged(
    storage: Driver, tmp_path: Path
) -> None:
    spec = volume_spec(tmp_path, size_gb=1)
    await storage.create_volume(spec)
    extended = await storage.extend_volume(spec.id, 2)

    again = await storage.create_volume(spec)

    assert again == extended
    assert (await listed_volume_ids(storage)).count(spec.id) == 1


# --- deleting -------------------------------------------------------------------------------


async def test_a_deleted_volume_is_gone_from_get_and_list(storage: Driver, tmp_path: Path) -> None:
    spec = volume_spec(tmp_path)
    await storage.create_volume(spec)

    await storage.delete_volume(spec.id)
    await storage.delete_volume(spec.id)

    with pytest.raises(ResourceNotFound):
        await storage.get_volume(spec.id)
    assert spec.id not in await listed_volume_ids(storage)


async def test_deleting_an_unknown_volume_succeeds(storage: Driver) -> None:
    await storage.delete_volume(str(uuid.uuid4()))


async def test_an_attached_volume_cannot_be_deleted(storage: Driver, tmp_path: Path) -> None:
    volume = await storage.create_volume(volume_spec(tmp_path))
    server_id = await new_server(storage)
    await storage.attach_volume(server_id, volume.id, "vdb")

    with pytest.raises(DriverError) as refused:
        await storage.delete_volume(volume.id)

    assert refused.value.code == "in_use"
    assert (await storage.get_volume(volume.id)).attachment is not None


async def test_a_volume_with_snapshots_cannot_be_deleted(storage: Driver, tmp_path: Path) -> None:
    volume = await storage.create_volume(volume_spec(tmp_path))
    await storage.create_snapshot(str(uuid.uuid4()), volume.id)

    with pytest.raises(DriverError) as refused:
        await storage.delete_volume(volume.id)

    assert refused.value.code == "in_use"
    assert await storage.get_volume(volume.id) == volume


# --- extending ------------------------------------------------------------------------------


async def test_an_extended_volume_reports_its_new_size(storage: Driver, tmp_path: Path) -> None:
    volume = await storage.create_volume(volume_spec(tmp_path, size_gb=1))

    extended = await storage.extend_volume(volume.id, 5)

    assert extended.size_gb == 5
    assert (await storage.get_volume(volume.id)).size_gb == 5


async def test_extending_to_the_current_size_is_a_no_op(storage: Driver, tmp_path: Path) -> None:
    volume = await storage.create_volume(volume_spec(tmp_path, size_gb=2))

    assert await storage.extend_volume(volume.id, 2) == volume


async def test_a_volume_never_shrinks(storage: Driver, tmp_path: Path) -> None:
    volume = await storage.create_volume(volume_spec(tmp_path, size_gb=2))

    with pytest.raises(DriverError) as refused:
        await storage.extend_volume(volume.id, 1)

    assert refused.value.code == "invalid_size"
    assert (await storage.get_volume(volume.id)).size_gb == 2


async def test_extending_an_unknown_volume_is_not_found(storage: Driver) -> None:
    with pytest.raises(ResourceNotFound):
        await storage.extend_volume(str(uuid.uuid4()), 2)


async def test_an_attached_volume_grows_only_with_online_extend(
    storage: Driver, tmp_path: Path
) -> None:
    volume = await storage.create_volume(volume_spec(tmp_path, size_gb=1))
    await storage.attach_volume(await new_server(storage), volume.id, "vdb")

    if Capability.VOLUME_EXTEND_ONLINE in storage.capabilities:
        assert (await storage.extend_volume(volume.id, 2)).size_gb == 2
    else:
        with pytest.raises(Unsupported):
            await storage.extend_volume(volume.id, 2)


# --- snapshots ------------------------------------------------------------------------------


async def test_a_snapshot_keeps_the_size_its_volume_had(storage: Driver, tmp_path: Path) -> None:
    volume = await storage.create_volume(volume_spec(tmp_path, size_gb=2))
    snapshot_id = str(uuid.uuid4())

    snapshot = await storage.create_snapshot(snapshot_id, volume.id)
    await storage.extend_volume(volume.id, 4)

    assert (snapshot.id, snapshot.volume_id, snapshot.size_gb) == (snapshot_id, volume.id, 2)
    assert await storage.get_snapshot(snapshot_id) == snapshot


async def test_a_snapshot_of_an_attached_volume_can_be_taken(
    storage: Driver, tmp_path: Path
) -> None:
    volume = await storage.create_volume(volume_spec(tmp_path))
    await storage.attach_volume(await new_server(storage), volume.id, "vdb")

    snapshot = await storage.create_snapshot(str(uuid.uuid4()), volume.id)

    assert snapshot.volume_id == volume.id


async def test_creating_an_existing_snapshot_again_returns_it(
    storage: Driver, tmp_path: Path
) -> None:
    volume = await storage.create_volume(volume_spec(tmp_path))
    snapshot_id = str(uuid.uuid4())
    first = await storage.create_snapshot(snapshot_id, volume.id)

    assert await storage.create_snapshot(snapshot_id, volume.id) == first


async def test_a_snapshot_of_an_unknown_volume_is_not_found(storage: Driver) -> None:
    snapshot_id = str(uuid.uuid4())

    with pytest.raises(ResourceNotFound):
        await storage.create_snapshot(snapshot_id, str(uuid.uuid4()))
    with pytest.raises(ResourceNotFound):
        await storage.get_snapshot(snapshot_id)


async def test_a_deleted_snapshot_is_gone_and_its_volume_stays(
    storage: Driver, tmp_path: Path
) -> None:
    volume = await storage.create_volume(volume_spec(tmp_path))
    snapshot_id = str(uuid.uuid4())
    await storage.create_snapshot(snapshot_id, volume.id)

    await storage.delete_snapshot(snapshot_id)
    await storage.delete_snapshot(snapshot_id)

    with pytest.raises(ResourceNotFound):
        await storage.get_snapshot(snapshot_id)
    assert await storage.get_volume(volume.id) == volume
    await storage.delete_volume(volume.id)  # no snapshot holds it any more


async def test_deleting_an_unknown_snapshot_succeeds(storage: Driver) -> None:
    await storage.delete_snapshot(str(uuid.uuid4()))


# --- reporting ------------------------------------------------------------------------------


async def test_an_unknown_volume_is_not_found(storage: Driver) -> None:
    with pytest.raises(ResourceNotFound):
        await storage.get_volume(str(uuid.uuid4()))


async def test_list_volumes_reports_every_created_volume(storage: Driver, tmp_path: Path) -> None:
    specs = [volume_spec(tmp_path, size_gb=n) for n in (1, 2, 3)]
    for spec in specs:
        await storage.create_volume(spec)

    listed = {volume.id: volume for volume in await storage.list_volumes()}

    assert [listed[spec.id].size_gb for spec in specs] == [1, 2, 3]

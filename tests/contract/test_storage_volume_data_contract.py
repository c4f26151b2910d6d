"""``export_volume`` and ``import_volume``, checked against every driver that declares
``Capability.VOLUME_DATA`` (one without it must refuse both with ``Unsupported``)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from cloudplane.drivers.base import Capability, ComputeDriver
from cloudplane.drivers.contract import Driver
from cloudplane.drivers.errors import DriverError, ResourceNotFound, Unsupported
from cloudplane.drivers.storage_contract import ImageSource
from tests.contract.storage_contract_support import new_server, volume_spec, whole_driver


@pytest.fixture
def storage(driver: ComputeDriver) -> Driver:
    return whole_driver(driver)


def patterned_image(directory: Path) -> ImageSource:
    """A small raw image whose bytes are not zeros, as a volume source."""
    path = directory / "pattern.raw"
    path.write_bytes(b"cloudplane volume data\n" * 512)
    return ImageSource(
        image_id=str(uuid.uuid4()),
        path=str(path),
        disk_format="raw",
        virtual_size_bytes=path.stat().st_size,
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.lacks(Capability.VOLUME_DATA)
async def test_a_driver_without_volume_data_refuses_export_and_import(
    storage: Driver, tmp_path: Path
) -> None:
    with pytest.raises(Unsupported):
        await storage.export_volume(str(uuid.uuid4()), tmp_path / "out")
    with pytest.raises(Unsupported):
        await storage.import_volume(str(uuid.uuid4()), tmp_path / "in", "raw")


@pytest.fixture
def data_driver(storage: Driver) -> Driver:
    """The driver of a test marked ``needs(Capability.VOLUME_DATA)``."""
    assert Capability.VOLUME_DATA in storage.capabilities
    return storage


@pytest.mark.needs(Capability.VOLUME_DATA)
async def test_exporting_an_unchanged_volume_twice_gives_the_same_content(
    data_driver: Driver, tmp_path: Path
) -> None:
    spec = volume_spec(tmp_path)
    await data_driver.create_volume(spec)

    first_format = await data_driver.export_volume(spec.id, tmp_path / "first")
    second_format = await data_driver.export_volume(spec.id, tmp_path / "second")

    assert first_format in {"qcow2", "raw"}
    assert second_format == first_format
    assert (tmp_path / "first").stat().st_size > 0
    assert digest(tmp_path / "first") == digest(tmp_path / "second")


@pytest.mark.needs(Capability.VOLUME_DATA)
async def test_an_attached_volume_can_be_exported(data_driver: Driver, tmp_path: Path) -> None:
    spec = volume_spec(tmp_path)
    await data_driver.create_volume(spec)
    server_id = await new_server(data_driver)
    await data_driver.attach_volume(server_id, spec.id, "vdb")

    await data_driver.export_volume(spec.id, tmp_path / "copy")

    assert (tmp_path / "copy").stat().st_size > 0


@pytest.mark.needs(Capability.VOLUME_DATA)
async def test_an_imported_volume_exports_the_data_it_was_given(
    data_driver: Driver, tmp_path: Path
) -> None:
    # Blank volumes may all read as zeros, so the original carries an image's bytes.
    original = volume_spec(tmp_path, image=patterned_image(tmp_path))
    blank = volume_spec(tmp_path)
    await data_driver.create_volume(original)
    await data_driver.create_volume(blank)
    disk_format = await data_driver.export_volume(original.id, tmp_path / "original")
    await data_driver.export_volume(blank.id, tmp_path / "blank-before")
    assert digest(tmp_path / "blank-before") != digest(tmp_path / "original")

    await data_driver.import_volume(blank.id, tmp_path / "original", disk_format)

    await data_driver.export_volume(blank.id, tmp_path / "blank-after")
    assert digest(tmp_path / "blank-after") == digest(tmp_path / "original")


@pytest.mark.needs(Capability.VOLUME_DATA)
async def test_importing_into_a_smaller_volume_is_too_small_and_changes_nothing(
    data_driver: Driver, tmp_path: Path
) -> None:
    big, small = volume_spec(tmp_path, size_gb=2), volume_spec(tmp_path, size_gb=1)
    await data_driver.create_volume(big)
    await data_driver.create_volume(small)
    disk_format = await data_driver.export_volume(big.id, tmp_path / "big")
    await data_driver.export_volume(small.id, tmp_path / "small-before")

    with pytest.raises(DriverError) as refused:
        await data_driver.import_volume(small.id, tmp_path / "big", disk_format)

    assert refused.value.code == "too_small"
    await data_driver.export_volume(small.id, tmp_path / "small-after")
    assert digest(tmp_path / "small-after") == digest(tmp_path / "small-before")


@dataclass(frozen=True)
class _AttachedTarget:
    """Patterned data exported to ``tmp_path / "source"``, and a blank volume attached (as
    ``vdb``) to a running server."""

    disk_format: str
    target_id: str
    server_id: str


async def _exported_data_and_an_attached_volume(
    data_driver: Driver, tmp_path: Path
) -> _AttachedTarget:
    source = volume_spec(tmp_path, image=patterned_image(tmp_path))
    target = volume_spec(tmp_path)
    await data_driver.create_volume(source)
    await data_driver.create_volume(target)
    disk_format = await data_driver.export_volume(source.id, tmp_path / "source")
    server_id = await new_server(data_driver)
    await data_driver.attach_volume(server_id, target.id, "vdb")
    return _AttachedTarget(disk_format, target.id, server_id)


@pytest.mark.needs(Capability.VOLUME_DATA)
async def test_importing_into_a_volume_of_a_running_server_is_in_use(
    data_driver: Driver, tmp_path: Path
) -> None:
    attached = await _exported_data_and_an_attached_volume(data_driver, tmp_path)
    target_id = attached.target_id

    with pytest.raises(DriverError) as refused:
        await data_driver.import_volume(target_id, tmp_path / "source", attached.disk_format)

    assert refused.value.code == "in_use"
    await data_driver.export_volume(target_id, tmp_path / "target-after")
    assert digest(tmp_path / "target-after") != digest(tmp_path / "source")


@pytest.mark.needs(Capability.VOLUME_DATA)
async def test_importing_into_a_volume_of_a_shut_off_server_rewrites_it(
    data_driver: Driver, tmp_path: Path
) -> None:
    attached = await _exported_data_and_an_attached_volume(data_driver, tmp_path)
    target_id = attached.target_id
    await data_driver.stop_server(attached.server_id)

    await data_driver.import_volume(target_id, tmp_path / "source", attached.disk_format)

    await data_driver.export_volume(target_id, tmp_path / "target-after")
    assert digest(tmp_path / "target-after") == digest(tmp_path / "source")
    attachment = (await data_driver.get_volume(target_id)).attachment
    assert attachment is not None
    assert (attachment.server_id, attachment.device) == (attached.server_id, "vdb")


@pytest.mark.needs(Capability.VOLUME_DATA)
async def test_export_and_import_of_an_unknown_volume_are_not_found(
    data_driver: Driver, tmp_path: Path
) -> None:
    known = volume_spec(tmp_path)
    await data_driver.create_volume(known)
    disk_format = await data_driver.export_volume(known.id, tmp_path / "known")

    with pytest.raises(ResourceNotFound):
        await data_driver.export_volume(str(uuid.uuid4()), tmp_path / "unknown")
    with pytest.raises(ResourceNotFound):
        await data_driver.import_volume(str(uuid.uuid4()), tmp_path / "known", disk_format)


@pytest.mark.needs(Capability.VOLUME_DATA, Capability.SNAPSHOTS)
async def test_a_volume_made_from_a_snapshot_holds_the_data_at_snapshot_time(
    data_driver: Driver, tmp_path: Path
) -> None:
    origin, other = volume_spec(tmp_path), volume_spec(tmp_path)
    await data_driver.create_volume(origin)
    await data_driver.create_volume(other)
    disk_format = await data_driver.export_volume(origin.id, tmp_path / "at-snapshot")
    snapshot_id = str(uuid.uuid4())
    await data_driver.create_snapshot(snapshot_id, origin.id)
    await data_driver.export_volume(other.id, tmp_path / "other")
    await data_driver.import_volume(origin.id, tmp_path / "other", disk_format)  # changes origin

    copy = volume_spec(tmp_path, snapshot_id=snapshot_id)
    await data_driver.create_volume(copy)

    await data_driver.export_volume(copy.id, tmp_path / "copy")
    assert digest(tmp_path / "copy") == digest(tmp_path / "at-snapshot")

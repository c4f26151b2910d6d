"""What the simulator's block storage does beyond the contract: persistence and the knobs."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cloudplane.drivers.base import ServerSpec
from cloudplane.drivers.errors import DriverError
from cloudplane.drivers.simulator import SimulatorDriver
from cloudplane.drivers.storage_contract import ImageSource, VolumeSpec
from cloudplane.kit.process_lock import LOCK_FILE


def volume_spec(size_gb: int = 1, image: ImageSource | None = None) -> VolumeSpec:
    return VolumeSpec(
        id=str(uuid.uuid4()), name="sim-volume", size_gb=size_gb, pool_path="/tmp", image=image
    )


async def opened(state_dir: Path, **knobs: object) -> SimulatorDriver:
    driver = SimulatorDriver(state_dir, **knobs)  # type: ignore[arg-type]
    await driver.open()
    return driver


async def test_volumes_snapshots_and_attachments_survive_a_restart(tmp_path: Path) -> None:
    state_dir = tmp_path / "simulator"
    first = await opened(state_dir)
    server = ServerSpec(id=str(uuid.uuid4()), name="s", vcpus=1, ram_mb=64, disk_gb=1, image=None)
    await first.create_server(server)
    volume = await first.create_volume(volume_spec(2))
    snapshot = await first.create_snapshot(str(uuid.uuid4()), volume.id)
    attachment = await first.attach_volume(server.id, volume.id, "vdb")
    await first.close()

    second = await opened(state_dir)
    restored = await second.get_volume(volume.id)
    assert (restored.size_gb, restored.attachment) == (2, attachment)
    assert await second.get_snapshot(snapshot.id) == snapshot
    await second.close()


async def test_the_volume_directory_appears_with_the_first_volume(tmp_path: Path) -> None:
    state_dir = tmp_path / "simulator"
    driver = await opened(state_dir)
    assert not (state_dir / "volumes").exists()
    volume = await driver.create_volume(volume_spec())
    assert _records(state_dir / "volumes") == [
        f"volume-{volume.id}.data",
        f"volume-{volume.id}.json",
    ]
    await driver.delete_volume(volume.id)
    assert _records(state_dir / "volumes") == []
    await driver.close()


def _records(directory: Path) -> list[str]:
    """The record files, without the lock file that processes sharing the directory use."""
    return sorted(p.name for p in directory.iterdir() if p.name != LOCK_FILE)


async def test_two_drivers_over_one_directory_share_volumes_and_snapshots(tmp_path: Path) -> None:
    state_dir = tmp_path / "simulator"
    first, second = await opened(state_dir, shared=True), await opened(state_dir, shared=True)
    volume = await first.create_volume(volume_spec())
    snapshot = await second.create_snapshot(str(uuid.uuid4()), volume.id)
    assert (await first.get_snapshot(snapshot.id)).volume_id == volume.id
    with pytest.raises(DriverError) as refused:
        await first.delete_volume(volume.id)  # it has a snapshot, made by the other driver
    assert refused.value.code == "in_use"
    await first.delete_snapshot(snapshot.id)
    await second.delete_volume(volume.id)
    assert await first.list_volumes() == []
    await first.close()
    await second.close()


async def test_a_shared_change_reads_only_the_records_it_touches(tmp_path: Path) -> None:
    state_dir = tmp_path / "simulator"
    first, second = await opened(state_dir, shared=True), await opened(state_dir, shared=True)
    damaged = await first.create_volume(volume_spec())
    kept = await first.create_volume(volume_spec())
    # A change costs its own records however many others there are: one unreadable record
    # stops only what reads it.
    (state_dir / "volumes" / f"volume-{damaged.id}.json").write_text("{not json")

    assert (await second.extend_volume(kept.id, 3)).size_gb == 3
    snapshot = await second.create_snapshot(str(uuid.uuid4()), kept.id)
    assert (await first.get_snapshot(snapshot.id)).size_gb == 3
    assert (await first.get_volume(kept.id)).size_gb == 3
    with pytest.raises(DriverError) as listing:
        await first.list_volumes()
    assert listing.value.code == "corrupt_state"
    await first.close()
    await second.close()


async def test_an_injected_storage_fault_changes_nothing(tmp_path: Path) -> None:
    driver = await opened(tmp_path / "simulator", fail={"create_volume"})
    spec = volume_spec()
    with pytest.raises(DriverError) as refused:
        await driver.create_volume(spec)
    assert refused.value.code == "injected_fault"
    assert await driver.list_volumes() == []
    await driver.close()


def test_the_knobs_accept_storage_operation_names(tmp_path: Path) -> None:
    SimulatorDriver(tmp_path, latency_ms={"attach_volume": 5}, fail={"extend_volume"})
    with pytest.raises(ValueError, match="unknown operations"):
        SimulatorDriver(tmp_path, fail={"create_volum"})


async def test_a_volume_from_an_image_whose_file_is_missing_is_refused(tmp_path: Path) -> None:
    driver = await opened(tmp_path / "simulator")
    source = ImageSource(
        image_id="img", path=str(tmp_path / "missing"), disk_format="raw", virtual_size_bytes=1
    )
    with pytest.raises(DriverError) as refused:
        await driver.create_volume(volume_spec(image=source))
    assert refused.value.code == "image_unavailable"
    await driver.close()


async def test_an_unreadable_volume_state_file_fails_the_open(tmp_path: Path) -> None:
    volumes_dir = tmp_path / "simulator" / "volumes"
    volumes_dir.mkdir(parents=True)
    (volumes_dir / "volume-x.json").write_text("{not json")
    with pytest.raises(DriverError) as refused:
        await opened(tmp_path / "simulator")
    assert refused.value.code == "corrupt_state"

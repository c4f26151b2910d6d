"""Data protection on real QEMU disks: the ``backup`` provider through the API on libvirt.

Patterns are written into the volumes' qcow2 files with ``qemu-io`` and read back with
``qemu-io -c "read -P …"``, which fails when a single byte differs, so what is checked is the
guest-visible content of the disks, not a checksum the provider computed itself.
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import libvirt

from cloudplane.protection.providers import backup_store
from tests.api.protection.protection_factories import checkpoint_of, create_plan, key, run, show
from tests.api.storage.storage_factories import available_volume
from tests.libvirt_real.test_real_api import removed_afterwards, settings
from tests.support.api import ApiSession

__all__ = ["removed_afterwards", "settings"]  # fixtures: the API on libvirt, cleaned up after

KIB = 1024
PATTERN_LENGTH = 64 * KIB
SAVED: dict[int, list[tuple[int, int]]] = {
    0: [(0x5A, 0), (0xA5, 768 * 1024 * KIB)],  # first volume: its first and its last quarter
    1: [(0x3C, 1024 * KIB)],
}
"""Per volume (by position in the plan): (byte, offset) of each pattern written before the
checkpoint; each is ``PATTERN_LENGTH`` long."""
OVERWRITE = 0xEE
"""What the same ranges hold after the checkpoint."""


async def qemu_io(path: str, command: str) -> subprocess.CompletedProcess[str]:
    """Run one ``qemu-io`` command on the disk image at ``path``."""
    argv = ["qemu-io", "-f", "qcow2", "-c", command, path]
    return await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True)


async def write_pattern(path: str, byte: int, offset: int) -> None:
    done = await qemu_io(path, f"write -P {byte:#x} {offset} {PATTERN_LENGTH}")
    assert done.returncode == 0, done.stdout + done.stderr


async def holds_pattern(path: str, byte: int, offset: int) -> bool:
    """Whether every byte of the range is ``byte`` (``read -P`` fails on any other).

    A read that fails for another reason (a missing or locked file) fails the test instead.
    """
    done = await qemu_io(path, f"read -P {byte:#x} {offset} {PATTERN_LENGTH}")
    if done.returncode == 0:
        return True
    assert "Pattern verification failed" in done.stdout, done.stdout + done.stderr
    return False


async def volume_file(admin: ApiSession, host: libvirt.virConnect, volume_id: str) -> str:
    """The path of the volume's disk, as the libvirt storage pool of its storage pool says."""
    volume = await show(admin, f"/volumes/{volume_id}")
    pool_row = await show(admin, f"/storage-pools/{volume['storage_pool_id']}")
    pool = host.storagePoolLookupByTargetPath(pool_row["path"])
    pool.refresh(0)
    name = f"{admin.runtime.settings.libvirt_name_prefix}vol-{volume_id}.qcow2"
    return str(pool.storageVolLookupByName(name).path())


async def two_protected_volumes(
    admin: ApiSession, host: libvirt.virConnect
) -> tuple[list[str], list[str], dict[str, Any]]:
    """Two volumes holding the ``SAVED`` patterns, their files, and an available checkpoint of a
    ``backup`` plan protecting both."""
    volume_ids = [(await available_volume(admin, size_gb=1))["id"] for _ in SAVED]
    files = [await volume_file(admin, host, volume_id) for volume_id in volume_ids]
    for position, path in enumerate(files):
        for byte, offset in SAVED[position]:
            await write_pattern(path, byte, offset)
    plan = await create_plan(admin, [{"type": "volume", "id": v} for v in volume_ids])
    checkpoint = await checkpoint_of(admin, plan["id"])
    assert checkpoint["status"] == "available", checkpoint
    return volume_ids, files, checkpoint


async def overwrite_saved_ranges(files: list[str]) -> None:
    """Write ``OVERWRITE`` over every ``SAVED`` range, as a guest would after the checkpoint."""
    for position, path in enumerate(files):
        for _byte, offset in SAVED[position]:
            await write_pattern(path, OVERWRITE, offset)
        for byte, offset in SAVED[position]:
            assert not await holds_pattern(path, byte, offset)  # the originals lost the data


async def test_a_restored_volume_holds_the_bytes_written_before_the_checkpoint(
    admin: ApiSession, host: libvirt.virConnect
) -> None:
    volume_ids, files, checkpoint = await two_protected_volumes(admin, host)
    await overwrite_saved_ranges(files)

    restore = await run(admin, "/protection/restores", {"checkpoint_id": checkpoint["id"]})

    assert restore["status"] == "success", restore
    restored_ids = [restore["restored_resources"][key("volume", v)] for v in volume_ids]
    assert not set(restored_ids) & set(volume_ids)
    for position, restored_id in enumerate(restored_ids):
        assert (await show(admin, f"/volumes/{restored_id}"))["status"] == "available"
        restored_file = await volume_file(admin, host, restored_id)
        assert restored_file not in files
        for byte, offset in SAVED[position]:
            assert await holds_pattern(restored_file, byte, offset), (position, byte, offset)
            assert not await holds_pattern(restored_file, OVERWRITE, offset)


async def test_a_restore_in_place_puts_the_saved_bytes_back_into_the_same_disk_files(
    admin: ApiSession, host: libvirt.virConnect
) -> None:
    volume_ids, files, checkpoint = await two_protected_volumes(admin, host)
    await overwrite_saved_ranges(files)

    restore = await run(
        admin,
        "/protection/restores",
        {"checkpoint_id": checkpoint["id"], "target": "in_place"},
    )

    assert restore["status"] == "success", restore
    assert [restore["restored_resources"][key("volume", v)] for v in volume_ids] == volume_ids
    for position, volume_id in enumerate(volume_ids):
        assert (await show(admin, f"/volumes/{volume_id}"))["status"] == "available"
        assert await volume_file(admin, host, volume_id) == files[position]
        for byte, offset in SAVED[position]:
            assert await holds_pattern(files[position], byte, offset), (position, byte, offset)


async def test_a_corrupted_backup_file_fails_verification_of_that_volume_only(
    admin: ApiSession, host: libvirt.virConnect
) -> None:
    volume_ids, _files, checkpoint = await two_protected_volumes(admin, host)
    intact = await run(admin, "/protection/verifications", {"checkpoint_id": checkpoint["id"]})
    assert intact["status"] == "success", intact
    store = backup_store(admin.runtime.settings) / checkpoint["id"]
    damaged = store / f"volume-{volume_ids[1]}.img"
    await asyncio.to_thread(flip_a_byte_in_the_middle, damaged)

    verification = await run(
        admin, "/protection/verifications", {"checkpoint_id": checkpoint["id"]}
    )

    assert verification["status"] == "fail", verification
    assert verification["resources_status"] == {
        key("volume", volume_ids[0]): "success",
        key("volume", volume_ids[1]): "fail",
    }
    reason = verification["resources_reason"][key("volume", volume_ids[1])]
    assert damaged.name in reason
    assert "checksum" in reason


def flip_a_byte_in_the_middle(path: Path) -> None:
    """Damage the file in place (same size), as a bad disk or a partial overwrite would."""
    with path.open("r+b") as stream:
        middle = path.stat().st_size // 2
        stream.seek(middle)
        (byte,) = stream.read(1)
        stream.seek(middle)
        stream.write(bytes([byte ^ 0xFF]))

"""The tiny image: its boot sector, its qcow2 container, and that QEMU really boots it."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from cloudplane.images.tiny_image import (
    SECTOR_SIZE,
    TINY_IMAGE_CONSOLE_LINE,
    GiB,
    build_boot_sector,
    build_tiny_image,
    write_qcow2,
)

# CI must prove the image boots, so there a missing QEMU is a failure; elsewhere it is a skip.
IN_CI = os.environ.get("CI") == "true"
BOOT_DEADLINE_SECONDS = 30.0

# Bits 9-55 of an L1 or L2 entry hold the host offset; the rest are flags.
OFFSET_MASK = 0x00FF_FFFF_FFFF_FE00
L2_COMPRESSED = 1 << 62
L2_READS_AS_ZEROS = 1


def requires_binary(name: str) -> pytest.MarkDecorator:
    """Skip where ``name`` is not installed, except in CI, where the test runs and fails."""
    return pytest.mark.skipif(
        shutil.which(name) is None and not IN_CI,
        reason=f"{name} is not installed (scripts/services.sh installs it)",
    )


def binary(name: str) -> str:
    """The path of ``name``, failing the test when it is missing (only reached in CI)."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is required in CI; scripts/services.sh installs it")
    return found


@dataclass(frozen=True)
class Qcow2Header:
    magic: bytes
    version: int
    cluster_bits: int
    virtual_size: int
    l1_size: int
    l1_table_offset: int
    refcount_table_offset: int
    header_length: int


def parse_header(image: bytes) -> Qcow2Header:
    """Read the header fields this suite checks, straight from the qcow2 specification."""
    magic, version = struct.unpack_from(">4sI", image, 0)
    (cluster_bits,) = struct.unpack_from(">I", image, 20)
    (virtual_size,) = struct.unpack_from(">Q", image, 24)
    l1_size, l1_table_offset, refcount_table_offset = struct.unpack_from(">IQQ", image, 36)
    (header_length,) = struct.unpack_from(">I", image, 100)
    return Qcow2Header(
        magic=magic,
        version=version,
        cluster_bits=cluster_bits,
        virtual_size=virtual_size,
        l1_size=l1_size,
        l1_table_offset=l1_table_offset,
        refcount_table_offset=refcount_table_offset,
        header_length=header_length,
    )


def read_virtual_disk(path: Path, length: int) -> bytes:
    """Read the first ``length`` guest bytes by walking the L1 and L2 tables.

    Enough qcow2 for images without backing files or compression, which is what the writer makes.
    """
    image = path.read_bytes()
    header = parse_header(image)
    cluster_size = 1 << header.cluster_bits
    entries_per_table = cluster_size // 8
    disk = bytearray()
    for guest_cluster in range(-(-length // cluster_size)):
        l1_index, l2_index = divmod(guest_cluster, entries_per_table)
        (l1_entry,) = struct.unpack_from(">Q", image, header.l1_table_offset + 8 * l1_index)
        l2_table = l1_entry & OFFSET_MASK
        l2_entry = 0
        if l2_table:
            (l2_entry,) = struct.unpack_from(">Q", image, l2_table + 8 * l2_index)
        assert not l2_entry & L2_COMPRESSED
        host = l2_entry & OFFSET_MASK
        if host == 0 or l2_entry & L2_READS_AS_ZEROS:
            disk += bytes(cluster_size)
        else:
            disk += image[host : host + cluster_size]
    return bytes(disk[:length])


def test_the_boot_sector_is_one_sector_ending_with_the_boot_signature() -> None:
    sector = build_boot_sector()

    assert len(sector) == 512
    assert sector[510:] == b"\x55\xaa"


def test_the_boot_sector_carries_the_console_line_with_a_line_ending() -> None:
    assert (TINY_IMAGE_CONSOLE_LINE + "\r\n").encode("ascii") in build_boot_sector()


def test_the_boot_sector_ends_its_code_by_halting_forever() -> None:
    # cli; hlt; jmp $-2, right before the message.
    halt = b"\xfa\xf4\xeb\xfc"
    sector = build_boot_sector()

    assert sector.index(halt) + len(halt) == sector.index(TINY_IMAGE_CONSOLE_LINE.encode())


def test_the_qcow2_header_reads_back_as_written(tmp_path: Path) -> None:
    path = tmp_path / "disk.qcow2"

    write_qcow2(build_boot_sector(), 3 * GiB, path)

    header = parse_header(path.read_bytes())
    assert header.magic == b"QFI\xfb"
    assert header.version == 3
    assert header.cluster_bits == 16
    assert header.virtual_size == 3 * GiB
    # Each 64 KiB L2 table maps 8192 clusters of 64 KiB: 512 MiB per L1 entry.
    assert header.l1_size == 6
    assert header.l1_table_offset > 0
    assert header.l1_table_offset % (1 << 16) == 0
    assert header.refcount_table_offset % (1 << 16) == 0
    assert header.header_length == 104


def test_the_virtual_disk_reads_back_as_the_boot_sector_then_zeros(tmp_path: Path) -> None:
    image = build_tiny_image(tmp_path / "tiny.qcow2")

    first_cluster = read_virtual_disk(image.path, 1 << 16)

    assert first_cluster[:SECTOR_SIZE] == build_boot_sector()
    assert first_cluster[SECTOR_SIZE:] == bytes((1 << 16) - SECTOR_SIZE)


def test_only_clusters_holding_data_take_space_in_the_file(tmp_path: Path) -> None:
    cluster = 1 << 16
    raw = b"\x01" * cluster + bytes(cluster) + b"\x02" * 100
    path = tmp_path / "disk.qcow2"

    write_qcow2(raw, GiB, path)

    assert read_virtual_disk(path, 4 * cluster) == raw + bytes(4 * cluster - len(raw))
    # header, refcount table, refcount block, L1 table, one L2 table and two data clusters
    assert path.stat().st_size == 7 * cluster


def test_the_tiny_image_is_the_same_file_every_time_and_is_described_truly(
    tmp_path: Path,
) -> None:
    first = build_tiny_image(tmp_path / "first.qcow2")
    second = build_tiny_image(tmp_path / "second.qcow2")

    assert first.checksum_sha256 == second.checksum_sha256
    assert first.size_bytes == first.path.stat().st_size
    assert first.path.read_bytes() == second.path.read_bytes()


@pytest.mark.parametrize(
    ("raw", "virtual_size"),
    [(b"", 0), (b"", 1000), (bytes(1024), 512)],
    ids=["empty disk", "part of a sector", "data larger than the disk"],
)
def test_write_qcow2_refuses_sizes_it_cannot_honour_and_writes_nothing(
    tmp_path: Path, raw: bytes, virtual_size: int
) -> None:
    path = tmp_path / "disk.qcow2"

    with pytest.raises(ValueError, match=r"virtual size|do not fit"):
        write_qcow2(raw, virtual_size, path)

    assert list(tmp_path.iterdir()) == []


@requires_binary("qemu-img")
def test_qemu_img_finds_the_tiny_image_clean_and_reports_its_size_and_format(
    tmp_path: Path,
) -> None:
    qemu_img = binary("qemu-img")
    image = build_tiny_image(tmp_path / "tiny.qcow2", virtual_size=2 * GiB)

    check = subprocess.run(
        [qemu_img, "check", str(image.path)], capture_output=True, text=True, check=False
    )
    info = subprocess.run(
        [qemu_img, "info", "--output=json", str(image.path)],
        capture_output=True,
        text=True,
        check=True,
    )

    assert check.returncode == 0, check.stdout + check.stderr
    assert "No errors were found on the image." in check.stdout
    details = json.loads(info.stdout)
    assert details["format"] == "qcow2"
    assert details["virtual-size"] == 2 * GiB
    assert details["cluster-size"] == 1 << 16
    assert details["format-specific"]["data"]["corrupt"] is False


@requires_binary("qemu-system-x86_64")
def test_the_tiny_image_boots_under_qemu_and_says_so_on_the_serial_port(
    tmp_path: Path,
) -> None:
    qemu = binary("qemu-system-x86_64")
    image = build_tiny_image(tmp_path / "tiny.qcow2")
    serial_log = tmp_path / "serial.log"
    expected = (TINY_IMAGE_CONSOLE_LINE + "\r\n").encode("ascii")
    # Not -nographic: with no screen SeaBIOS copies screen output to the serial port, and the
    # line would then show up there even if the boot sector's own UART code were broken.
    command = [
        qemu,
        "-machine",
        "accel=tcg",
        "-m",
        "64",
        "-display",
        "none",
        "-monitor",
        "none",
        "-serial",
        f"file:{serial_log}",
        "-drive",
        f"file={image.path},format=qcow2,if=ide",
    ]
    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + BOOT_DEADLINE_SECONDS
        while time.monotonic() < deadline and process.poll() is None:
            if serial_log.exists() and expected in serial_log.read_bytes():
                break
            time.sleep(0.1)
    finally:
        process.kill()
        _, errors = process.communicate(timeout=10)
        output = serial_log.read_bytes() if serial_log.exists() else b""
        serial_log.unlink(missing_ok=True)
        image.path.unlink(missing_ok=True)

    assert expected in output, f"serial log: {output!r}; qemu said: {errors.decode()!r}"

"""The ``tiny`` image: a small bootable qcow2 disk that cloudplane builds itself.

Nothing is downloaded. The disk holds a single hand-encoded x86 boot sector that writes
:data:`TINY_IMAGE_CONSOLE_LINE` to the first serial port (and to the screen) and then halts. That
gives every driver, test and fresh installation a real bootable image of a few hundred KiB, and a
line on the serial console that proves a server really booted from it.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from pathlib import Path

TINY_IMAGE_NAME = "tiny"
"""The name the seeded image is registered under."""

TINY_IMAGE_CONSOLE_LINE = "cloudplane tiny image booted"
"""What the tiny image prints on its serial console once it has booted (followed by CR LF)."""

GiB = 1 << 30

SECTOR_SIZE = 512
"""Bytes in one disk sector: the boot sector's size, and the unit a virtual size must come in."""


@dataclass(frozen=True, slots=True)
class ImageFile:
    """An image file on disk as an upload or a driver sees it.

    ``size_bytes`` and ``checksum_sha256`` describe the file's own bytes (the qcow2 container),
    not the virtual disk inside it.
    """

    path: Path
    size_bytes: int
    checksum_sha256: str


# --- the boot sector -------------------------------------------------------------------------

# Every PC BIOS loads the boot sector here and jumps to it in 16-bit real mode.
_LOAD_ADDRESS = 0x7C00
# The signature a BIOS checks in the last two bytes before it will boot a sector.
_BOOT_SIGNATURE = b"\x55\xaa"
# I/O base of COM1, the port QEMU and libvirt connect to a server's serial console.
_COM1 = 0x3F8
# Bytes of machine code below; the message starts right after them, so the code addresses it
# as _LOAD_ADDRESS + _CODE_LENGTH. build_boot_sector checks the two agree.
_CODE_LENGTH = 0x67


def _u16(value: int) -> bytes:
    """Encode an immediate 16-bit operand the way x86 stores it: little-endian."""
    return struct.pack("<H", value)


def build_boot_sector() -> bytes:
    """Return the tiny image's 512-byte x86 boot sector.

    The code runs in real mode at 0000:7C00 and uses only relative jumps and segment-0 data, so
    it works whichever of the equivalent CS:IP pairs the BIOS jumps to. It sets COM1 to
    115200 baud 8N1, writes ``TINY_IMAGE_CONSOLE_LINE`` + CR LF to it (waiting before each byte
    until the transmit holding register is empty), prints the same line through BIOS int 10h
    teletype, then halts for good. The result ends with the 0x55AA boot signature.
    """
    message = (TINY_IMAGE_CONSOLE_LINE + "\r\n").encode("ascii") + b"\x00"
    message_address = _u16(_LOAD_ADDRESS + _CODE_LENGTH)
    code = b"".join(
        [
            # Offsets are from the start of the sector; jump displacements count from the byte
            # after the jump.
            # -- segments and a stack: the BIOS promises neither
            b"\xfa",  # 00  cli  ; no interrupt while the stack is half set
            b"\x31\xc0",  # 01  xor ax, ax
            b"\x8e\xd8",  # 03  mov ds, ax  ; the message is addressed from segment 0
            b"\x8e\xc0",  # 05  mov es, ax
            b"\x8e\xd0",  # 07  mov ss, ax
            b"\xbc" + _u16(_LOAD_ADDRESS),  # 09  mov sp, 0x7c00  ; stack grows down, below us
            b"\xfb",  # 0c  sti  ; int 10h needs interrupts on
            b"\xfc",  # 0d  cld  ; lodsb walks forwards
            # -- COM1: 115200 baud, 8 data bits, no parity, 1 stop bit
            b"\xba" + _u16(_COM1 + 1),  # 0e  mov dx, 0x3f9  ; interrupt enable register
            b"\xb0\x00",  # 11  mov al, 0x00  ; no UART interrupts: we poll
            b"\xee",  # 13  out dx, al
            b"\xba" + _u16(_COM1 + 3),  # 14  mov dx, 0x3fb  ; line control register
            b"\xb0\x80",  # 17  mov al, 0x80  ; DLAB=1 maps the divisor latch in
            b"\xee",  # 19  out dx, al
            b"\xba" + _u16(_COM1 + 0),  # 1a  mov dx, 0x3f8  ; divisor latch, low byte
            b"\xb0\x01",  # 1d  mov al, 0x01  ; 115200 / 1 = 115200 baud
            b"\xee",  # 1f  out dx, al
            b"\xba" + _u16(_COM1 + 1),  # 20  mov dx, 0x3f9  ; divisor latch, high byte
            b"\xb0\x00",  # 23  mov al, 0x00
            b"\xee",  # 25  out dx, al
            b"\xba" + _u16(_COM1 + 3),  # 26  mov dx, 0x3fb  ; line control register
            b"\xb0\x03",  # 29  mov al, 0x03  ; 8N1, and DLAB=0 maps the data port back
            b"\xee",  # 2b  out dx, al
            b"\xba" + _u16(_COM1 + 2),  # 2c  mov dx, 0x3fa  ; FIFO control register
            b"\xb0\xc7",  # 2f  mov al, 0xc7  ; enable and clear both FIFOs
            b"\xee",  # 31  out dx, al
            b"\xba" + _u16(_COM1 + 4),  # 32  mov dx, 0x3fc  ; modem control register
            b"\xb0\x03",  # 35  mov al, 0x03  ; DTR and RTS: tell the other end we're here
            b"\xee",  # 37  out dx, al
            # -- the message to COM1, one byte at a time
            b"\xbe" + message_address,  # 38  mov si, message
            b"\xac",  # 3b  serial_next: lodsb  ; al = [si], then si += 1
            b"\x84\xc0",  # 3c  test al, al
            b"\x74\x12",  # 3e  jz serial_done (52)  ; the NUL ends the message
            b"\x88\xc4",  # 40  mov ah, al  ; keep the byte: polling below reuses al
            b"\xba" + _u16(_COM1 + 5),  # 42  mov dx, 0x3fd  ; line status register
            b"\xec",  # 45  serial_wait: in al, dx
            b"\xa8\x20",  # 46  test al, 0x20  ; bit 5: transmit holding register empty
            b"\x74\xfb",  # 48  jz serial_wait (45)  ; a byte written now would be lost
            b"\x88\xe0",  # 4a  mov al, ah
            b"\xba" + _u16(_COM1),  # 4c  mov dx, 0x3f8  ; transmit holding register
            b"\xee",  # 4f  out dx, al
            b"\xeb\xe9",  # 50  jmp serial_next (3b)
            # -- the same message on the screen, for a VNC or VGA console
            b"\xbe" + message_address,  # 52  serial_done: mov si, message
            b"\xac",  # 55  screen_next: lodsb
            b"\x84\xc0",  # 56  test al, al
            b"\x74\x09",  # 58  jz halt (63)
            b"\xb4\x0e",  # 5a  mov ah, 0x0e  ; int 10h function 0Eh: teletype output
            b"\xbb\x07\x00",  # 5c  mov bx, 0x0007  ; page 0, light grey
            b"\xcd\x10",  # 5f  int 0x10
            b"\xeb\xf2",  # 61  jmp screen_next (55)
            # -- stop for good: interrupts off so only an NMI can wake hlt, and then we loop
            b"\xfa",  # 63  halt: cli
            b"\xf4",  # 64  hlt
            b"\xeb\xfc",  # 65  jmp $-2 (63)
        ]
    )
    if len(code) != _CODE_LENGTH:
        raise AssertionError(
            f"boot code is {len(code)} bytes, the message address assumes {_CODE_LENGTH}"
        )
    body = code + message
    padding = bytes(SECTOR_SIZE - len(_BOOT_SIGNATURE) - len(body))
    return body + padding + _BOOT_SIGNATURE


# --- the qcow2 container ---------------------------------------------------------------------
# Layout written (one cluster each unless noted), in this order:
#   header | refcount table (n) | refcount blocks (n) | L1 table (n) | L2 tables | data clusters
# Only guest clusters holding a non-zero byte get a data cluster; everything else reads as zeros
# because its L1 or L2 entry is 0. Every host cluster is used exactly once, so each refcount is 1
# and every L1/L2 entry carries the COPIED flag that says so (qemu-img check insists on it).

_QCOW2_MAGIC = b"QFI\xfb"
_QCOW2_VERSION = 3
_CLUSTER_BITS = 16  # 64 KiB clusters: QEMU's default
_CLUSTER_SIZE = 1 << _CLUSTER_BITS
_REFCOUNT_ORDER = 4  # 2**4 = 16-bit refcounts: QEMU's default
_REFCOUNT_BYTES = (1 << _REFCOUNT_ORDER) // 8
_HEADER_LENGTH = 104  # the version 3 header without the optional fields after it
# Bit 63 of an L1/L2 entry: the cluster's refcount is exactly 1, so it may be written in place.
_OFLAG_COPIED = 1 << 63
_ENTRY_BYTES = 8  # L1, L2 and refcount table entries are all 64-bit
_ENTRIES_PER_CLUSTER = _CLUSTER_SIZE // _ENTRY_BYTES
_REFCOUNTS_PER_BLOCK = _CLUSTER_SIZE // _REFCOUNT_BYTES

# magic, version, backing file offset and size, cluster bits, virtual size, encryption method,
# L1 size and offset, refcount table offset and clusters, snapshot count and offset,
# incompatible/compatible/autoclear feature bits, refcount order, header length.
_HEADER = struct.Struct(">4sIQIIQIIQQIIQQQQII")


def _clusters_for(byte_count: int) -> int:
    """How many whole clusters ``byte_count`` bytes take."""
    return -(-byte_count // _CLUSTER_SIZE)


def _non_zero_clusters(raw: bytes) -> dict[int, bytes]:
    """Map guest cluster index to contents, for the clusters of ``raw`` that are not all zero."""
    clusters: dict[int, bytes] = {}
    for index in range(_clusters_for(len(raw))):
        chunk = raw[index * _CLUSTER_SIZE : (index + 1) * _CLUSTER_SIZE]
        if chunk.count(0) != len(chunk):
            clusters[index] = chunk.ljust(_CLUSTER_SIZE, b"\x00")
    return clusters


def write_qcow2(raw: bytes, virtual_size: int, path: Path) -> None:
    """Write ``raw`` as the start of a qcow2 (version 3) virtual disk of ``virtual_size`` bytes.

    The disk reads back as ``raw`` followed by zeros up to ``virtual_size``. The file has no
    backing file, compression, encryption or snapshots, and passes ``qemu-img check``.
    ``virtual_size`` must be a positive multiple of 512 and at least ``len(raw)``; otherwise
    ``ValueError`` is raised and nothing is written. The file appears at ``path`` complete or not
    at all: it is written beside it and renamed into place. Output is deterministic: the same
    arguments always give the same bytes.
    """
    if virtual_size <= 0 or virtual_size % SECTOR_SIZE:
        raise ValueError(f"virtual size must be a positive multiple of 512, got {virtual_size}")
    if len(raw) > virtual_size:
        raise ValueError(f"{len(raw)} bytes of data do not fit a {virtual_size}-byte disk")

    data = _non_zero_clusters(raw)
    l1_size = -(-virtual_size // (_CLUSTER_SIZE * _ENTRIES_PER_CLUSTER))
    l1_clusters = _clusters_for(l1_size * _ENTRY_BYTES)
    l2_tables = sorted({index // _ENTRIES_PER_CLUSTER for index in data})

    # The refcount structures count themselves too, so grow them until they cover everything.
    table_clusters, block_count = 1, 1
    while True:
        total = 1 + table_clusters + block_count + l1_clusters + len(l2_tables) + len(data)
        needed_blocks = -(-total // _REFCOUNTS_PER_BLOCK)
        needed_table = _clusters_for(needed_blocks * _ENTRY_BYTES)
        if (needed_table, needed_blocks) == (table_clusters, block_count):
            break
        table_clusters, block_count = needed_table, needed_blocks

    refcount_table_at = 1
    refcount_blocks_at = refcount_table_at + table_clusters
    l1_at = refcount_blocks_at + block_count
    l2_at = l1_at + l1_clusters
    data_at = l2_at + len(l2_tables)
    metadata = bytearray(data_at * _CLUSTER_SIZE)

    header = _HEADER.pack(
        _QCOW2_MAGIC,
        _QCOW2_VERSION,
        0,  # no backing file
        0,
        _CLUSTER_BITS,
        virtual_size,
        0,  # not encrypted
        l1_size,
        l1_at * _CLUSTER_SIZE,
        refcount_table_at * _CLUSTER_SIZE,
        table_clusters,
        0,  # no snapshots
        0,
        0,  # no incompatible features: any qcow2 v3 reader may open it
        0,
        0,
        _REFCOUNT_ORDER,
        _HEADER_LENGTH,
    )
    # The header-extension area after it stays zero, which reads as the end-of-extensions marker.
    metadata[: len(header)] = header

    for block in range(block_count):
        entry_at = refcount_table_at * _CLUSTER_SIZE + block * _ENTRY_BYTES
        struct.pack_into(">Q", metadata, entry_at, (refcount_blocks_at + block) * _CLUSTER_SIZE)
    for cluster in range(total):
        entry_at = refcount_blocks_at * _CLUSTER_SIZE + cluster * _REFCOUNT_BYTES
        struct.pack_into(">H", metadata, entry_at, 1)

    l2_offsets = {l1_index: (l2_at + n) * _CLUSTER_SIZE for n, l1_index in enumerate(l2_tables)}
    for l1_index, l2_offset in l2_offsets.items():
        entry_at = l1_at * _CLUSTER_SIZE + l1_index * _ENTRY_BYTES
        struct.pack_into(">Q", metadata, entry_at, l2_offset | _OFLAG_COPIED)
    for data_number, guest_index in enumerate(data):
        entry_at = l2_offsets[guest_index // _ENTRIES_PER_CLUSTER]
        entry_at += (guest_index % _ENTRIES_PER_CLUSTER) * _ENTRY_BYTES
        struct.pack_into(
            ">Q", metadata, entry_at, (data_at + data_number) * _CLUSTER_SIZE | _OFLAG_COPIED
        )

    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("wb") as file:
            file.write(metadata)
            for chunk in data.values():
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


def build_tiny_image(path: Path, virtual_size: int = GiB) -> ImageFile:
    """Write the tiny image to ``path`` and describe the file written.

    The image is a qcow2 disk of ``virtual_size`` bytes (default 1 GiB, so flavors with small root
    disks can still boot it) whose first sector is :func:`build_boot_sector`; the rest reads as
    zeros. The file is a few hundred KiB and byte-for-byte the same every time, so its checksum
    is stable across builds and machines. ``path``'s directory must exist.
    """
    write_qcow2(build_boot_sector(), virtual_size, path)
    with path.open("rb") as file:
        checksum = hashlib.file_digest(file, "sha256").hexdigest()
    return ImageFile(path=path, size_bytes=path.stat().st_size, checksum_sha256=checksum)

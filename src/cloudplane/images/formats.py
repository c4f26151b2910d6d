"""Checking that an image file's bytes match its declared ``disk_format``.

The checks read only the start of the file (its *head*): the first ``HEAD_BYTES_NEEDED`` bytes
or more, or the whole file when it is shorter. A head shorter than that therefore *is* the
whole file, which is how a too-small ISO is recognised without knowing the total size.

``raw`` accepts any bytes except a qcow2 header. A qcow2 header can name a backing file on the
host; anything that later probes the file's format instead of trusting ``raw`` would follow it
(the classic image-upload hole), and a guest given the container as a raw disk sees garbage.
An ``iso`` with qcow2 magic is refused for the same reason: qcow2 is detected before ISO 9660.
"""

from __future__ import annotations

import enum
import struct


class DiskFormat(enum.StrEnum):
    QCOW2 = "qcow2"
    RAW = "raw"
    ISO = "iso"


QCOW2_MAGIC = b"QFI\xfb"
QCOW2_VERSIONS = frozenset({2, 3})
_QCOW2_HEADER = struct.Struct(">4sI")  # magic, version: the start every qcow2 version shares

ISO9660_SIGNATURE = b"CD001"
ISO9660_SIGNATURE_AT = 0x8001
"""The primary volume descriptor sits in sector 16 (of 2048 bytes); its id follows a type byte."""

HEAD_BYTES_NEEDED = ISO9660_SIGNATURE_AT + len(ISO9660_SIGNATURE)
"""The least head the checks need to decide (0x8006): the end of the ISO 9660 signature."""


class FormatMismatchError(ValueError):
    """The bytes are not what ``disk_format`` says; the message says why, for the client."""

    def __init__(self, message: str, *, detected: DiskFormat | None) -> None:
        super().__init__(message)
        self.detected = detected


def detect_format(head: bytes) -> DiskFormat | None:
    """The container format the head shows (qcow2 or iso), or None for anything else."""
    if _is_qcow2_magic(head):
        return DiskFormat.QCOW2
    if _has_iso_signature(head):
        return DiskFormat.ISO
    return None


def check_format(disk_format: DiskFormat, head: bytes) -> None:
    """Raise ``FormatMismatchError`` unless ``head`` starts a valid file of ``disk_format``.

    ``head`` is the file's first ``HEAD_BYTES_NEEDED`` bytes or more, or the whole file if it
    is shorter. An empty file matches no format.
    """
    detected = detect_format(head)
    if not head:
        raise FormatMismatchError("the image file is empty", detected=None)
    if disk_format is DiskFormat.QCOW2:
        _check_qcow2(head, detected)
    elif disk_format is DiskFormat.ISO:
        if detected is not DiskFormat.ISO:
            raise FormatMismatchError(
                f"disk_format is iso but the data has no ISO 9660 signature "
                f"({ISO9660_SIGNATURE.decode()} at offset {ISO9660_SIGNATURE_AT:#x})",
                detected=detected,
            )
    elif detected is DiskFormat.QCOW2:
        raise FormatMismatchError(
            "disk_format is raw but the data is a qcow2 image; "
            "create the image with disk_format qcow2 instead",
            detected=detected,
        )


def _check_qcow2(head: bytes, detected: DiskFormat | None) -> None:
    if detected is not DiskFormat.QCOW2:
        raise FormatMismatchError(
            "disk_format is qcow2 but the data does not start with the qcow2 magic",
            detected=detected,
        )
    if len(head) < _QCOW2_HEADER.size:
        raise FormatMismatchError("the qcow2 header is truncated", detected=detected)
    _, version = _QCOW2_HEADER.unpack_from(head)
    if version not in QCOW2_VERSIONS:
        raise FormatMismatchError(
            f"qcow2 version {version} is not supported; use version 2 or 3", detected=detected
        )


def _is_qcow2_magic(head: bytes) -> bool:
    return head.startswith(QCOW2_MAGIC)


def _has_iso_signature(head: bytes) -> bool:
    return head[ISO9660_SIGNATURE_AT:HEAD_BYTES_NEEDED] == ISO9660_SIGNATURE

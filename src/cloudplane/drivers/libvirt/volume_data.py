"""Copying a volume's bytes with ``qemu-img`` on this machine (blocking calls).

Used where libvirt has no call for the job: exporting a volume to a file and importing one back,
and copying a volume that a running server holds open. A running QEMU holds a write lock on its
disks, so those copies read with ``--force-share``; the caller pauses the server first, which
makes QEMU drain and flush its I/O, so the copy is consistent as of that moment.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from cloudplane.drivers.errors import DriverError


def _qemu_img(*args: str) -> str:
    try:
        done = subprocess.run(
            ["qemu-img", *args], check=True, capture_output=True, text=True, timeout=3600
        )
    except FileNotFoundError as exc:
        raise DriverError("qemu-img is not installed on this machine", code="unavailable") from exc
    except subprocess.CalledProcessError as exc:
        raise DriverError(
            f"qemu-img {args[0]} failed: {exc.stderr.strip()}", code="volume_data_error"
        ) from exc
    return done.stdout


def export_to(source: str, destination: Path, *, force_share: bool) -> None:
    """Write the disk at ``source`` (its whole backing chain) to the new qcow2 ``destination``."""
    share = ["-U"] if force_share else []
    _qemu_img("convert", *share, "-O", "qcow2", source, str(destination))


def copy_into(source: str, source_format: str, target: str, *, force_share: bool) -> None:
    """Overwrite the existing qcow2 ``target`` with the disk at ``source``."""
    share = ["-U"] if force_share else []
    _qemu_img("convert", *share, "-n", "-f", source_format, "-O", "qcow2", source, target)


def virtual_size(path: Path, disk_format: str) -> int:
    """The size of the disk inside the file, in bytes."""
    info = json.loads(_qemu_img("info", "--output=json", "-f", disk_format, str(path)))
    return int(info["virtual-size"])

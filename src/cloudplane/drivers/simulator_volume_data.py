"""The simulator's volume data: a few KiB of bytes per volume and snapshot, kept in files.

No guest ever writes to a simulated volume, but backups need data whose checksums mean
something: each volume gets deterministic bytes when it is made (derived from its id, or from its
image, or copied from its snapshot), tests may overwrite parts of them (``write``), and exporting
and importing carry them exactly. The exported file is the bytes behind a small header naming the
volume size they came from, so an import into a smaller volume is refused as a real one would be.
"""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
from pathlib import Path
from urllib.parse import quote

from cloudplane.drivers.errors import DriverError

DATA_BYTES = 8192
"""How many bytes of data a simulated volume holds, whatever its size."""

EXPORT_FORMAT = "raw"
_MAGIC = b"CPSIMVOL1\n"
_HEADER = struct.Struct(">Q")  # the size in GB of the volume the data came from


def derived_bytes(seed: str, length: int = DATA_BYTES) -> bytes:
    """``length`` deterministic bytes from ``seed`` (SHA-256 in counter mode)."""
    blocks = []
    for counter in range((length + 31) // 32):
        blocks.append(hashlib.sha256(f"{seed}:{counter}".encode()).digest())
    return b"".join(blocks)[:length]


class VolumeDataFiles:
    """``<kind>-<quoted id>.data`` files beside the JSON records; every method blocks."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_of(self, kind: str, record_id: str) -> Path:
        return self.directory / f"{kind}-{quote(record_id, safe='')}.data"

    def read(self, kind: str, record_id: str, *, fallback_seed: str) -> bytes:
        """The record's bytes; a record made before data was kept gets its derived bytes."""
        try:
            return self.path_of(kind, record_id).read_bytes()
        except FileNotFoundError:
            return derived_bytes(fallback_seed)

    def write(self, kind: str, record_id: str, data: bytes) -> None:
        """Replace the record's bytes atomically."""
        self.directory.mkdir(parents=True, exist_ok=True)
        _write_atomically(self.path_of(kind, record_id), data)

    def copy(self, kind: str, record_id: str, to_kind: str, to_id: str, *, seed: str) -> None:
        self.write(to_kind, to_id, self.read(kind, record_id, fallback_seed=seed))

    def remove(self, kind: str, record_id: str) -> None:
        self.path_of(kind, record_id).unlink(missing_ok=True)

    def export(self, data: bytes, size_gb: int, destination: Path) -> None:
        """Write the export file: header (source size) then the bytes."""
        _write_atomically(destination, _MAGIC + _HEADER.pack(size_gb) + data)

    @staticmethod
    def parse_export(source: Path) -> tuple[int, bytes]:
        """The source size in GB and the bytes of an export file; anything else is refused."""
        content = source.read_bytes()
        prefix = len(_MAGIC) + _HEADER.size
        if not content.startswith(_MAGIC) or len(content) < prefix:
            raise DriverError(f"{source} is not simulator volume data", code="invalid_format")
        (size_gb,) = _HEADER.unpack(content[len(_MAGIC) : prefix])
        return int(size_gb), content[prefix:]


def _write_atomically(path: Path, data: bytes) -> None:
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as temp_file:
            temp_file.write(data)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise

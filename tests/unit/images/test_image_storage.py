"""The image store: a file appears whole or not at all, and every failure cleans up after itself."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloudplane.images.formats import DiskFormat, FormatMismatchError, check_format
from cloudplane.images.storage import DEFAULT_HEAD_BYTES, ImageStore, ImageTooLargeError

MiB = 1 << 20


async def _chunks(data: bytes, size: int = 100_000) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def _names(root: Path) -> list[str]:
    return sorted(path.name for path in root.iterdir())


async def test_a_stream_is_stored_with_its_size_checksum_and_head(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images")
    data = bytes(range(256)) * (12 * 1024)  # 3 MiB: several write batches
    heads: list[bytes] = []

    stored = await store.write_stream(
        "a", _chunks(data), max_bytes=len(data), inspect_head=heads.append
    )

    assert stored.size_bytes == len(data)
    assert stored.checksum_sha256 == hashlib.sha256(data).hexdigest()
    assert stored.head == data[:DEFAULT_HEAD_BYTES]
    assert heads == [stored.head]
    assert store.path_for("a").read_bytes() == data
    assert _names(store.root) == ["a"]
    read = b"".join([chunk async for chunk in await store.open_stream("a", 4096)])
    assert read == data


async def test_a_short_stream_is_inspected_whole(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    heads: list[bytes] = []

    await store.write_stream("a", _chunks(b"tiny"), max_bytes=10, inspect_head=heads.append)

    assert heads == [b"tiny"]


async def test_a_stream_over_the_limit_leaves_no_file_and_keeps_the_old_one(
    tmp_path: Path,
) -> None:
    store = ImageStore(tmp_path)
    await store.write_stream("a", _chunks(b"old"), max_bytes=10)

    with pytest.raises(ImageTooLargeError):
        await store.write_stream("a", _chunks(b"x" * (3 * MiB)), max_bytes=2 * MiB)

    assert _names(tmp_path) == ["a"]
    assert store.path_for("a").read_bytes() == b"old"


async def test_a_rejected_head_stops_the_write_before_anything_is_kept(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    data = b"QFI\xfb\x00\x00\x00\x03" + bytes(3 * MiB)

    with pytest.raises(FormatMismatchError):
        await store.write_stream(
            "a",
            _chunks(data),
            max_bytes=len(data),
            inspect_head=lambda head: check_format(DiskFormat.RAW, head),
        )

    assert _names(tmp_path) == []


async def test_a_cancelled_write_leaves_no_file(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    stalled = asyncio.Event()

    async def stalling() -> AsyncIterator[bytes]:
        yield bytes(2 * MiB)
        stalled.set()
        await asyncio.Event().wait()
        yield b""

    task = asyncio.create_task(store.write_stream("a", stalling(), max_bytes=10 * MiB))
    await stalled.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert _names(tmp_path) == []


async def test_deleting_a_missing_file_is_not_an_error(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)

    await store.delete("never-stored")
    with pytest.raises(FileNotFoundError):
        await store.open_stream("never-stored")


@pytest.mark.parametrize("image_id", ["", "../etc", "a/b", ".hidden"])
def test_ids_that_could_leave_the_directory_are_refused(tmp_path: Path, image_id: str) -> None:
    with pytest.raises(ValueError, match="not an image id"):
        ImageStore(tmp_path).path_for(image_id)

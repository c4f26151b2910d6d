"""Image files on local disk: streamed in, streamed out, and removed.

One file per image, named by the image id, in one directory. A file appears under its final name
complete or not at all: uploads are written to a temporary file beside it and renamed into place.
Reads, writes and syncs run in worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MiB = 1 << 20

WRITE_BATCH_BYTES = MiB
"""Received bytes gathered before one write: a thread hop per request chunk would cost more."""

DEFAULT_HEAD_BYTES = 64 * 1024
"""How much of the start of an upload is kept for inspection (format checks need 0x8006)."""

DEFAULT_CHUNK_BYTES = MiB
"""Download chunk size."""

FILE_MODE = 0o644


class ImageTooLargeError(Exception):
    """The stream went past ``max_bytes``; nothing was stored."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the image file is larger than the limit of {max_bytes} bytes")
        self.max_bytes = max_bytes


@dataclass(frozen=True, slots=True)
class StoredFile:
    """What was stored: its length, its sha256 (hex) and its first bytes (see ``write_stream``)."""

    size_bytes: int
    checksum_sha256: str
    head: bytes


HeadInspector = Callable[[bytes], None]


class ImageStore:
    """The directory holding one file per image. Safe to build per request: it holds no state."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, image_id: str) -> Path:
        """Where the file of ``image_id`` lives. Creates the directory, so the path is writable."""
        if not image_id or "/" in image_id or "\\" in image_id or image_id.startswith("."):
            # Ids are UUIDs; anything that could walk out of the directory is a bug upstream.
            raise ValueError(f"not an image id: {image_id!r}")
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root / image_id

    async def write_stream(
        self,
        image_id: str,
        chunks: AsyncIterator[bytes],
        *,
        max_bytes: int,
        inspect_head: HeadInspector | None = None,
        head_bytes: int = DEFAULT_HEAD_BYTES,
    ) -> StoredFile:
        """Store ``chunks`` as the file of ``image_id``, replacing any file it had.

        The data goes to a temporary file in the same directory, is hashed while it streams
        (never held whole in memory), synced, and renamed over ``path_for(image_id)`` only once
        complete. ``inspect_head`` is called once with the first ``head_bytes`` bytes (or all of
        them, when the data is shorter) before any byte is written; the same bytes come back as
        ``StoredFile.head``. If the data exceeds ``max_bytes`` (``ImageTooLargeError``),
        ``inspect_head`` raises, ``chunks`` raises, or the task is cancelled, the temporary file
        is removed, the exception propagates and the image's previous file, if any, is untouched.
        """
        final_path = self.path_for(image_id)
        fd, temp_name = await asyncio.to_thread(
            tempfile.mkstemp, dir=self.root, prefix=f".{image_id}.", suffix=".partial"
        )
        temp_path = Path(temp_name)
        file = os.fdopen(fd, "wb")
        writer = _PipelinedWriter(file)
        try:
            stored = await _copy(chunks, writer, max_bytes, inspect_head, head_bytes)
            await asyncio.to_thread(_sync_and_close, file)
            await asyncio.to_thread(os.replace, temp_path, final_path)
            await asyncio.to_thread(_sync_directory, self.root)
            return stored
        except BaseException:
            try:
                await writer.abandon()
            finally:
                # Blocking on purpose: this must run even when the task is being cancelled.
                file.close()
                temp_path.unlink(missing_ok=True)  # noqa: ASYNC240
            raise

    async def open_stream(
        self, image_id: str, chunk_size: int = DEFAULT_CHUNK_BYTES
    ) -> AsyncIterator[bytes]:
        """Open the file of ``image_id`` and return its contents as an iterator of chunks.

        The file is opened before this returns, so a missing file raises ``FileNotFoundError``
        here rather than in the middle of a response; the iterator closes it when exhausted or
        closed. A file deleted after opening still reads to its end.
        """
        path = self.path_for(image_id)
        file: BinaryIO = await asyncio.to_thread(path.open, "rb")
        return _read_chunks(file, chunk_size)

    async def remove_partial_files(self) -> int:
        """Remove the temporary files of uploads that never finished; returns how many.

        Only safe when no upload is in progress in any process (at start-up of the embedded
        form): a live upload's temporary file would be removed under it.
        """

        def _remove() -> int:
            if not self.root.is_dir():
                return 0
            partials = list(self.root.glob(".*.partial"))
            for path in partials:
                path.unlink(missing_ok=True)
            return len(partials)

        return await asyncio.to_thread(_remove)

    async def delete(self, image_id: str) -> None:
        """Remove the file of ``image_id``; a file that is not there is not an error."""
        await asyncio.to_thread(self.path_for(image_id).unlink, missing_ok=True)


async def _copy(
    chunks: AsyncIterator[bytes],
    writer: _PipelinedWriter,
    max_bytes: int,
    inspect_head: HeadInspector | None,
    head_bytes: int,
) -> StoredFile:
    digest = hashlib.sha256()
    head = bytearray()
    head_done = False
    batch = bytearray()
    total = 0
    async for chunk in chunks:
        if not chunk:
            continue
        total += len(chunk)
        if total > max_bytes:
            raise ImageTooLargeError(max_bytes)
        if not head_done:
            head += chunk[: head_bytes - len(head)]
            if len(head) >= head_bytes:
                head_done = True
                if inspect_head is not None:
                    inspect_head(bytes(head))
        batch += chunk
        if head_done and len(batch) >= WRITE_BATCH_BYTES:
            await writer.write(batch, digest)
            batch = bytearray()
    if not head_done and inspect_head is not None:
        inspect_head(bytes(head))
    if batch:
        await writer.write(batch, digest)
    await writer.finish()
    return StoredFile(size_bytes=total, checksum_sha256=digest.hexdigest(), head=bytes(head))


class _PipelinedWriter:
    """Writes batches in a worker thread, one in flight while the next is being received.

    Hashing happens in the same thread: hashlib releases the GIL on large buffers, so neither
    hashing nor disk writes hold up the event loop. Batches are handed over, never reused.
    """

    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self._in_flight: asyncio.Future[None] | None = None

    async def write(self, batch: bytearray, digest: hashlib._Hash) -> None:
        await self.finish()
        self._in_flight = asyncio.ensure_future(
            asyncio.to_thread(_write_and_hash, self._file, batch, digest)
        )

    async def finish(self) -> None:
        """Wait for the write in flight; its error, if any, is raised here."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            await in_flight

    async def abandon(self) -> None:
        """Let the write in flight end (the thread cannot be stopped) and drop its outcome."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(in_flight)


def _write_and_hash(file: BinaryIO, batch: bytearray, digest: hashlib._Hash) -> None:
    digest.update(batch)
    file.write(batch)


def _sync_and_close(file: BinaryIO) -> None:
    file.flush()
    # mkstemp creates 0600; image files are read by the hypervisor's own user, like the files
    # build_tiny_image writes.
    os.fchmod(file.fileno(), FILE_MODE)
    os.fsync(file.fileno())
    file.close()


def _sync_directory(directory: Path) -> None:
    """Make the rename itself durable (POSIX keeps it in the directory's metadata)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


async def _read_chunks(file: BinaryIO, chunk_size: int) -> AsyncIterator[bytes]:
    try:
        while chunk := await asyncio.to_thread(file.read, chunk_size):
            yield chunk
    finally:
        file.close()

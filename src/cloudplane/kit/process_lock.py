"""A lock shared by every process on this machine that uses one directory: an exclusive
``flock`` on the directory's ``.lock`` file, taken in a worker thread so the event loop never
waits for it."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path

LOCK_FILE = ".lock"


@contextlib.asynccontextmanager
async def exclusive(directory: Path) -> AsyncIterator[None]:
    """Hold ``directory``'s lock (creating both if needed) across every process using it.

    A caller cancelled while it waits for the lock raises ``CancelledError`` and holds nothing:
    the thread waiting in ``flock`` cannot be stopped, so the lock it gets later is released
    at once instead of staying taken by nobody.
    """
    acquiring = asyncio.ensure_future(asyncio.to_thread(_acquire, directory))
    try:
        fd = await asyncio.shield(acquiring)
    except asyncio.CancelledError:
        acquiring.add_done_callback(_release_if_acquired)
        raise
    try:
        yield
    finally:
        await asyncio.to_thread(_release, fd)


def _acquire(directory: Path) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _release_if_acquired(acquiring: asyncio.Future[int]) -> None:
    # Unlocking never blocks, so this may run on the event loop.
    if not acquiring.cancelled() and acquiring.exception() is None:
        _release(acquiring.result())


def _release(fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)

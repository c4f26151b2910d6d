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
    """Hold ``directory``'s lock (creating both if needed) across every process using it."""
    fd = await asyncio.to_thread(_acquire, directory)
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


def _release(fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)

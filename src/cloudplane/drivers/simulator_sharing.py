"""Lets several processes share one simulator state directory.

API replicas and workers of the distributed form each run a simulator over the same data
directory. Each reads the files again before it acts, and a change (read, modify, replace) holds
an exclusive ``flock`` on the directory's ``.lock`` file, so two processes never interleave one.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

LOCK_FILE = ".lock"
EVERY: None = None
"""Where a change names the records of one kind it reads again: all of them."""
#: A temp file older than this was left by a crash, not by a write in progress elsewhere.
STALE_TEMP_AGE_S = 60.0


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


def remove_stale_temp_files(directory: Path, pattern: str) -> None:
    """Drop temp files a crash left; younger ones may be another process's write in progress."""
    too_old = time.time() - STALE_TEMP_AGE_S
    for temp in directory.glob(pattern):
        with contextlib.suppress(FileNotFoundError):
            if temp.stat().st_mtime < too_old:
                temp.unlink(missing_ok=True)

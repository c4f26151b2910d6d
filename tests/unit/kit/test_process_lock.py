"""The directory lock excludes other holders and is never left taken by a cancelled waiter."""

from __future__ import annotations

import asyncio
import fcntl
import os
from pathlib import Path

from cloudplane.kit.process_lock import LOCK_FILE, exclusive

ANSWER_WITHIN_S = 10.0
"""Far above the milliseconds a free lock takes; reaching it means the lock stayed taken."""


def hold_from_elsewhere(directory: Path) -> int:
    """Take the lock through a file description of our own, as another process would."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def let_go(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


async def take_and_leave(directory: Path) -> None:
    async with exclusive(directory):
        pass


async def test_a_waiter_gets_the_lock_only_once_it_is_let_go(tmp_path: Path) -> None:
    held = hold_from_elsewhere(tmp_path)
    waiter = asyncio.create_task(take_and_leave(tmp_path))
    done, _ = await asyncio.wait({waiter}, timeout=0.2)
    assert not done, "the lock was taken while another holder had it"
    let_go(held)
    await asyncio.wait_for(waiter, ANSWER_WITHIN_S)


async def test_a_waiter_cancelled_while_waiting_leaves_the_lock_free(tmp_path: Path) -> None:
    held = hold_from_elsewhere(tmp_path)
    waiters = [asyncio.create_task(take_and_leave(tmp_path)) for _ in range(3)]
    await asyncio.wait(waiters, timeout=0.2)  # their threads now wait in flock
    for waiter in waiters:
        waiter.cancel()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(result, asyncio.CancelledError) for result in results)

    let_go(held)

    # Each cancelled waiter's thread takes the lock in turn and must hand it back.
    await asyncio.wait_for(take_and_leave(tmp_path), ANSWER_WITHIN_S)
    fd = await asyncio.wait_for(asyncio.to_thread(hold_from_elsewhere, tmp_path), ANSWER_WITHIN_S)
    let_go(fd)

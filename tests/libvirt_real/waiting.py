"""Polling with a deadline: the real tier waits for conditions, never for a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], *, within_s: float = 30.0
) -> T:
    """Call ``probe`` until ``done`` holds for its result; fail after ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached within {within_s}s; last value {value!r}")
        await asyncio.sleep(0.1)


async def console_lines(path: str, line: str) -> int:
    """How many times ``line`` has been written to the console log at ``path`` so far."""

    def count() -> int:
        try:
            with open(path, encoding="ascii", errors="replace") as log:
                return log.read().count(line)
        except FileNotFoundError:
            return 0

    return await asyncio.to_thread(count)

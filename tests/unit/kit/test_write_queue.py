"""The write queue: one holder, operation steps first, requests in arrival order."""

from __future__ import annotations

import asyncio

import pytest

from cloudplane.kit.write_queue import WriteQueue, writes_first


async def test_a_waiter_that_gives_up_is_skipped_and_the_lock_moves_on() -> None:
    queue = WriteQueue()
    await queue.acquire()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(queue.acquire(), timeout=0.05)
    later = asyncio.create_task(queue.acquire())
    await asyncio.sleep(0)
    queue.release()
    await asyncio.wait_for(later, timeout=1)
    assert queue.held
    queue.release()
    assert not queue.held


async def test_waiters_are_served_operations_first_then_in_arrival_order() -> None:
    queue = WriteQueue()
    served: list[str] = []
    await queue.acquire()

    async def wait(name: str, *, first: bool) -> None:
        if first:
            with writes_first():
                await queue.acquire()
        else:
            await queue.acquire()
        served.append(name)
        queue.release()

    tasks = [asyncio.create_task(wait("request-a", first=False))]
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(wait("request-b", first=False)))
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(wait("operation", first=True)))
    await asyncio.sleep(0)
    queue.release()
    await asyncio.gather(*tasks)

    assert served == ["operation", "request-a", "request-b"]
    assert not queue.held

"""Refreshes of one key merge, run one at a time, and begin no closer than their spacing."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from cloudplane.kit.coalesced_refresh import CoalescedRefresh


class Source:
    """A value that changes, and a copy refreshed from it that can be held mid-refresh."""

    def __init__(self) -> None:
        self.value = 0
        self.copy = -1
        self.began: list[float] = []
        self.release = asyncio.Event()
        self.release.set()

    async def refresh(self) -> None:
        self.began.append(time.monotonic())
        read = self.value
        await self.release.wait()
        self.copy = read


async def test_requests_made_while_one_refresh_runs_merge_into_a_single_next_one() -> None:
    refreshes, source = CoalescedRefresh(), Source()
    source.release.clear()
    refreshes.request("g", source.refresh)
    await asyncio.sleep(0)  # the first refresh has read and is held
    for value in range(1, 11):
        source.value = value
        refreshes.request("g", source.refresh)

    source.release.set()
    await refreshes.wait_idle()

    assert source.copy == 10  # the last change is in the copy
    assert len(source.began) == 2  # the held one, then one for the ten asked meanwhile


async def test_refreshes_of_one_key_begin_at_least_their_spacing_apart() -> None:
    refreshes, source = CoalescedRefresh(spacing_s=0.05), Source()

    for value in range(3):
        source.value = value
        refreshes.request("g", source.refresh)
        await refreshes.wait_idle()

    assert source.copy == 2
    gaps = [later - earlier for earlier, later in itertools.pairwise(source.began)]
    assert len(gaps) == 2
    assert min(gaps) >= 0.05


async def test_run_skips_only_when_a_refresh_began_after_it_was_called() -> None:
    refreshes, source = CoalescedRefresh(), Source()
    assert await refreshes.run("g", source.refresh)
    source.value = 5

    source.release.clear()
    held = asyncio.create_task(refreshes.run("g", source.refresh))
    await asyncio.sleep(0)
    waiting = asyncio.create_task(refreshes.run("g", source.refresh))
    await asyncio.sleep(0)
    source.release.set()

    assert await held  # called after the first one began: it runs and reads 5
    assert await waiting  # called before the held one began: that one cannot cover it
    assert source.copy == 5
    assert len(source.began) == 3


async def test_a_failed_refresh_covers_nothing_and_run_raises_its_error() -> None:
    refreshes, source = CoalescedRefresh(), Source()

    async def failing() -> None:
        raise RuntimeError("backend down")

    refreshes.request("g", failing)
    await refreshes.wait_idle()  # logged, not raised
    with pytest.raises(RuntimeError):
        await refreshes.run("g", failing)

    source.value = 3
    refreshes.request("g", source.refresh)
    await refreshes.wait_idle()
    assert source.copy == 3


async def test_keys_refresh_independently() -> None:
    refreshes, held, free = CoalescedRefresh(spacing_s=60), Source(), Source()
    held.release.clear()
    refreshes.request("a", held.refresh)
    await asyncio.sleep(0)

    free.value = 7
    assert await asyncio.wait_for(refreshes.run("b", free.refresh), timeout=5)

    assert free.copy == 7
    held.release.set()
    await refreshes.wait_idle()
    assert held.copy == 0

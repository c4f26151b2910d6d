"""Holding a real driver call at its start, to run other work at a chosen point of an operation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest


class HeldCall:
    """``owner.name`` patched to wait for ``release()`` before it runs the real call.

    ``await reached()`` returns once some caller is waiting there, so a test can run another
    operation to its end at exactly that point of the first one.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> None:
        self._reached = asyncio.Event()
        self._released = asyncio.Event()
        real_call = getattr(owner, name)

        async def held(*args: Any, **kwargs: Any) -> Any:
            self._reached.set()
            await self._released.wait()
            return await real_call(*args, **kwargs)

        monkeypatch.setattr(owner, name, held)

    async def reached(self, timeout_s: float = 10.0) -> None:
        await asyncio.wait_for(self._reached.wait(), timeout=timeout_s)

    def release(self) -> None:
        self._released.set()

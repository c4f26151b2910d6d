"""Holding a real driver call at its start, to run other work at a chosen point of an operation."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import pytest

from tests.api.network.network_factories import create_network
from tests.support.api import ApiSession, until_finished
from tests.support.factories import create_server

HOLD_LIMIT_S = 30.0
"""How long a held call waits at most: a test that fails before it releases the call still
ends (its app waits for the operation to finish) instead of hanging."""


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
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._released.wait(), timeout=HOLD_LIMIT_S)
            return await real_call(*args, **kwargs)

        monkeypatch.setattr(owner, name, held)

    async def reached(self, timeout_s: float = 10.0) -> None:
        await asyncio.wait_for(self._reached.wait(), timeout=timeout_s)

    def release(self) -> None:
        self._released.set()


@dataclass(frozen=True)
class BuildOvertakenByDelete:
    """A server whose create is held before making its port, deleted to the end meanwhile."""

    server: dict[str, Any]
    made_port_id: str
    port_creation: HeldCall


async def build_overtaken_by_delete(
    api: ApiSession, monkeypatch: pytest.MonkeyPatch, cidr: str
) -> BuildOvertakenByDelete:
    """Create a server with one port on a new network, hold its build before the backend
    makes the port, and run the server's delete to its end. Call ``port_creation.release()``
    and ``settle()`` to let the build go on."""
    network = await create_network(api, cidr=cidr)
    port_creation = HeldCall(monkeypatch, api.runtime.driver, "create_port")
    server = await create_server(api, networks=[{"network_id": network["id"]}])
    (made_port_id,) = [address["port_id"] for address in server["addresses"]]
    await port_creation.reached()
    deleted = await api.delete(f"/servers/{server['id']}")
    assert deleted.status_code == 202, deleted.text
    finished = await until_finished(api, deleted.json()["operation_id"])
    assert finished["status"] == "succeeded", finished
    return BuildOvertakenByDelete(server, made_port_id, port_creation)

"""An optional part of a driver: the hypervisor hosts behind it, their capacity and health."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class HostReport:
    """One host as last seen. ``name`` is what ``ServerInfo.host`` says for its servers.

    A host that did not answer has ``up`` False, ``error`` saying why, and the name and
    capacity it had when it last answered (None/0 when it never did).
    """

    uri: str
    up: bool
    name: str | None = None
    vcpus: int = 0
    memory_mb: int = 0
    free_memory_mb: int = 0
    error: str | None = None


@runtime_checkable
class HostInventory(Protocol):
    """A backend made of hosts it can report on (libvirt); backends without hosts lack it."""

    async def report_hosts(self) -> list[HostReport]:
        """Ask every host now; never raises for a host that does not answer (``up`` False)."""
        ...

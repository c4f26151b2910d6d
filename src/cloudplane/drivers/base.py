"""The driver contract: what every backend (simulator, libvirt, OpenStack) must do.

Drivers receive and return plain typed values and never touch cloudplane's database or a
feature package. Every method is a coroutine; a backend whose library blocks runs it in a
worker thread. Every method is idempotent with respect to the ids it is given, because a task may
be delivered twice or a worker may die half-way: the caller may repeat any call safely.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from cloudplane.drivers.capabilities import Capability
from cloudplane.drivers.errors import DriverError, ServerNotFound, Unsupported
from cloudplane.drivers.network_contract import InterfaceSpec
from cloudplane.drivers.storage_contract import BlockDeviceSpec

__all__ = [
    "BlockDeviceSpec",
    "Capability",
    "ComputeDriver",
    "ConsoleInfo",
    "DriverError",
    "ImageRef",
    "InterfaceSpec",
    "PowerState",
    "RebootKind",
    "ServerInfo",
    "ServerNotFound",
    "ServerSpec",
    "Unsupported",
]


class PowerState(enum.StrEnum):
    """What the hypervisor says a server is doing."""

    RUNNING = "running"
    PAUSED = "paused"
    SHUTDOWN = "shutdown"
    CRASHED = "crashed"
    NOSTATE = "nostate"


class RebootKind(enum.StrEnum):
    SOFT = "soft"
    HARD = "hard"


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A bootable image as the driver needs it: where its bytes are and what format they have."""

    id: str
    disk_format: str
    path: str | None
    size_bytes: int
    checksum_sha256: str | None


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """Everything a backend needs to build a server. ``id`` is cloudplane's id and is the key."""

    id: str
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int
    image: ImageRef | None
    user_data: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    block_devices: tuple[BlockDeviceSpec, ...] = ()
    """Volumes to attach at boot; the one with ``boot=True`` replaces the image as root disk."""
    interfaces: tuple[InterfaceSpec, ...] = ()
    """Network interfaces (ports) in the order the guest sees them."""


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What a backend reports about one server."""

    id: str
    power_state: PowerState
    host: str | None = None
    backend_id: str | None = None
    fault: str | None = None
    """Why the backend holds the server in error (its own message), when it says."""


@dataclass(frozen=True, slots=True)
class ConsoleInfo:
    """How to reach a server's console; ``type`` is ``vnc``, ``serial`` or ``none``."""

    type: str
    url: str | None = None


class ComputeDriver(abc.ABC):
    """A backend that runs servers.

    Postconditions are part of the contract and the contract test suite checks each of them.
    """

    name: str

    @property
    @abc.abstractmethod
    def capabilities(self) -> frozenset[Capability]:
        """What this backend can do; constant for the life of the driver."""

    async def open(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Connect to the backend. Called once before any other call."""

    async def close(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Release connections. Safe to call more than once."""

    @abc.abstractmethod
    async def check(self) -> None:
        """Raise ``DriverError`` when the backend does not answer; used by ``/readyz``."""

    @abc.abstractmethod
    async def create_server(self, spec: ServerSpec) -> ServerInfo:
        """Build and start the server described by ``spec``.

        After success the server is running. If it fails, nothing it made is left behind.
        Calling it again for an id that already exists returns that server unchanged.
        """

    @abc.abstractmethod
    async def delete_server(self, server_id: str) -> None:
        """Remove the server and everything it owns. Deleting an unknown server succeeds."""

    @abc.abstractmethod
    async def start_server(self, server_id: str) -> ServerInfo:
        """Power the server on. Afterwards it is running; starting a running server is a no-op."""

    @abc.abstractmethod
    async def stop_server(self, server_id: str, *, timeout_s: float = 60.0) -> ServerInfo:
        """Shut the server down gracefully, forcing it off after ``timeout_s``.

        Afterwards it is shut down; stopping a stopped server is a no-op.
        """

    @abc.abstractmethod
    async def reboot_server(self, server_id: str, kind: RebootKind) -> ServerInfo:
        """Reboot the server. Afterwards it is running (a hard reboot also starts a stopped one)."""

    @abc.abstractmethod
    async def pause_server(self, server_id: str) -> ServerInfo:
        """Freeze the server in memory. Afterwards it is paused; pausing a paused one is a no-op."""

    @abc.abstractmethod
    async def resume_server(self, server_id: str) -> ServerInfo:
        """Unfreeze a paused server. Afterwards it is running; resuming a running one is a no-op."""

    @abc.abstractmethod
    async def get_server(self, server_id: str) -> ServerInfo:
        """Report one server; raise ``ServerNotFound`` when the backend has none with that id."""

    @abc.abstractmethod
    async def list_servers(self) -> list[ServerInfo]:
        """Report every server the backend holds for cloudplane, in one call."""

    async def get_console(self, server_id: str) -> ConsoleInfo:
        """How to reach the server's console; backends without one answer type ``none``."""
        await self.get_server(server_id)
        return ConsoleInfo(type="none")

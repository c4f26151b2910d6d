"""The simulator driver: servers that exist only in memory and in small JSON files.

It needs no hypervisor, so cloudplane runs with zero set-up on one machine, and it is
deterministic, so the rest of cloudplane can be tested against it. State survives a restart: each
server is one JSON file under the state directory, replaced atomically on every change, and a new
driver over the same directory sees the servers the previous one had. The files, not memory, are
the truth for servers: every call reads the server's file again, so several processes (API
replicas and workers of the distributed form) over one directory see one set of servers. Each
server actually made is also appended to ``created.log`` in the directory, which tells whether
any server was ever made twice.

Two knobs make it useful for testing what sits above it: a latency per operation (the simulated
work) and a set of operations that fail with ``DriverError(code="injected_fault")``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
import weakref
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cloudplane.drivers.base import (
    Capability,
    ConsoleInfo,
    DriverError,
    PowerState,
    RebootKind,
    ServerInfo,
    ServerNotFound,
    ServerSpec,
)
from cloudplane.drivers.contract import Driver
from cloudplane.drivers.simulator_network import NETWORK_OPERATIONS, SimulatedNetwork
from cloudplane.drivers.simulator_sharing import remove_stale_temp_files
from cloudplane.drivers.simulator_storage import STORAGE_OPERATIONS, SimulatedStorage

SIMULATOR_HOST = "sim-host-1"
DEFAULT_LATENCY_KEY = "*"

#: Operation names the latency and fault knobs accept.
OPERATIONS = frozenset(
    {
        "check",
        "create_server",
        "delete_server",
        "start_server",
        "stop_server",
        "reboot_server",
        "pause_server",
        "resume_server",
        "get_server",
        "list_servers",
        "get_console",
    }
    | STORAGE_OPERATIONS
    | NETWORK_OPERATIONS
)

_STATE_FORMAT = 1
_TEMP_PREFIX = "."
_TEMP_SUFFIX = ".tmp"
#: One line per server actually created (not per idempotent repeat).
CREATION_LOG = "created.log"


@dataclass(frozen=True, slots=True)
class _Transition:
    """A power operation: the states it may start from and the state it leaves behind.

    Starting from the target state is a no-op, which is what makes repeated calls safe.
    """

    verb: str
    allowed_from: frozenset[PowerState]
    to: PowerState


_ANY_STATE = frozenset(PowerState)
_START = _Transition(
    "start",
    frozenset({PowerState.RUNNING, PowerState.SHUTDOWN, PowerState.CRASHED}),
    PowerState.RUNNING,
)
# Forcing a server off works whatever it is doing, as a hypervisor's "destroy" does.
_STOP = _Transition("stop", _ANY_STATE, PowerState.SHUTDOWN)
_PAUSE = _Transition("pause", frozenset({PowerState.RUNNING, PowerState.PAUSED}), PowerState.PAUSED)
_RESUME = _Transition(
    "resume", frozenset({PowerState.PAUSED, PowerState.RUNNING}), PowerState.RUNNING
)
_SOFT_REBOOT = _Transition("soft-reboot", frozenset({PowerState.RUNNING}), PowerState.RUNNING)
_HARD_REBOOT = _Transition("hard-reboot", _ANY_STATE, PowerState.RUNNING)


@dataclass(frozen=True, slots=True)
class _SimulatedServer:
    """One simulated server, as kept in memory and in its JSON file."""

    id: str
    name: str
    vcpus: int
    ram_mb: int
    disk_gb: int
    image_id: str | None
    metadata: Mapping[str, str]
    power_state: PowerState
    _info: ServerInfo = field(init=False, repr=False, compare=False)

    @classmethod
    def from_spec(cls, spec: ServerSpec) -> _SimulatedServer:
        return cls(
            id=spec.id,
            name=spec.name,
            vcpus=spec.vcpus,
            ram_mb=spec.ram_mb,
            disk_gb=spec.disk_gb,
            image_id=spec.image.id if spec.image else None,
            metadata=dict(spec.metadata),
            power_state=PowerState.RUNNING,
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> _SimulatedServer:
        """Parse a state file's content; raise ``KeyError``/``ValueError`` when it is malformed."""
        if data["format"] != _STATE_FORMAT:
            raise ValueError(f"unknown state format {data['format']!r}")
        image_id = data["image_id"]
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            vcpus=int(data["vcpus"]),
            ram_mb=int(data["ram_mb"]),
            disk_gb=int(data["disk_gb"]),
            image_id=None if image_id is None else str(image_id),
            metadata={str(k): str(v) for k, v in dict(data["metadata"]).items()},
            power_state=PowerState(data["power_state"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _STATE_FORMAT,
            "id": self.id,
            "name": self.name,
            "vcpus": self.vcpus,
            "ram_mb": self.ram_mb,
            "disk_gb": self.disk_gb,
            "image_id": self.image_id,
            "metadata": dict(self.metadata),
            "power_state": self.power_state.value,
        }

    def __post_init__(self) -> None:
        # Made once per state (the record is frozen; a change is a new record): the reconciler
        # lists every server each round, and at 100,000 servers building the answers afresh
        # held the event loop for a third of a second.
        info = ServerInfo(
            id=self.id,
            power_state=self.power_state,
            host=SIMULATOR_HOST,
            backend_id=f"sim-{self.id}",
        )
        object.__setattr__(self, "_info", info)

    def info(self) -> ServerInfo:
        return self._info


class _ServerFiles:
    """The state directory: one ``<quoted id>.json`` file per server.

    Every method blocks on the file system; the driver calls them through ``asyncio.to_thread``.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_of(self, server_id: str) -> Path:
        # Quoting keeps any id (slashes, dots) a single plain file name inside the directory.
        return self.directory / f"{quote(server_id, safe='')}.json"

    def load_all(self) -> dict[str, _SimulatedServer]:
        """Create the directory if needed, drop temp files a crash left, and read every server."""
        self.directory.mkdir(parents=True, exist_ok=True)
        remove_stale_temp_files(self.directory, f"{_TEMP_PREFIX}*{_TEMP_SUFFIX}")
        return self.read_all()

    def read_all(self) -> dict[str, _SimulatedServer]:
        servers: dict[str, _SimulatedServer] = {}
        for path in self.directory.glob("*.json"):
            server = self.read_path(path)
            if server is not None:
                servers[server.id] = server
        return servers

    def read(self, server_id: str) -> _SimulatedServer | None:
        """The server's current file, or None when it has none."""
        return self.read_path(self.path_of(server_id))

    def create(self, server: _SimulatedServer) -> _SimulatedServer:
        """The server as its file says, when it has one; else ``server``, written and its
        creation logged (a repeated create changes nothing)."""
        existing = self.read(server.id)
        if existing is not None:
            return existing
        self.write(server)
        self.record_creation(server.id)
        return server

    def record_creation(self, server_id: str) -> None:
        # One short write with O_APPEND: lines from several processes never interleave.
        with open(self.directory / CREATION_LOG, "a", encoding="utf-8") as log_file:
            log_file.write(f"{server_id}\n")

    def write(self, server: _SimulatedServer) -> None:
        """Replace the server's file atomically: readers see the old content or the new one.

        There is no fsync: the file survives a process restart, which is what the simulator
        promises, not a power cut, which would only cost speed to guard against.
        """
        fd, temp_name = tempfile.mkstemp(
            dir=self.directory, prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as temp_file:
                json.dump(server.to_json(), temp_file)
            os.replace(temp_name, self.path_of(server.id))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise

    def remove(self, server_id: str) -> None:
        self.path_of(server_id).unlink(missing_ok=True)

    def is_writable(self) -> bool:
        return self.directory.is_dir() and os.access(self.directory, os.W_OK | os.X_OK)

    @staticmethod
    def read_path(path: Path) -> _SimulatedServer | None:
        try:
            return _SimulatedServer.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None  # removed meanwhile, by this process or another
        except (KeyError, TypeError, ValueError) as exc:
            raise DriverError(
                f"simulator state file {path} is unreadable: {exc}", code="corrupt_state"
            ) from exc


class SimulatorDriver(SimulatedStorage, SimulatedNetwork, Driver):
    """A persistent, deterministic, in-process backend with latency and fault knobs.

    ``latency_ms`` maps an operation name (see ``OPERATIONS``) to how long it takes; the
    ``"*"`` entry applies to operations without their own. ``fail`` names operations that raise
    ``DriverError(code="injected_fault")`` before changing anything. Unknown names in either
    knob raise ``ValueError`` so that a typo in the settings does not silently do nothing.
    ``shared`` says other processes use the same directory (the distributed form): every call
    then reads the state again (servers from their files; volumes and networking under the
    directory's lock). Unshared, this process is the directory's only user, so memory is the
    state and the files are written through only to survive a restart.

    Power transitions a real hypervisor would refuse raise ``DriverError(code="invalid_state")``:
    pausing a server that is not running, resuming one that is not paused, starting a paused
    one, and a soft reboot of one that is not running.
    """

    name = "simulator"

    def __init__(
        self,
        state_dir: Path,
        *,
        latency_ms: Mapping[str, int] | None = None,
        fail: Collection[str] = (),
        shared: bool = False,
    ) -> None:
        self._files = _ServerFiles(state_dir)
        self._shared = shared
        self._latency_s = _latency_in_seconds(latency_ms or {})
        self._failing = _validated_operations(fail)
        self._servers: dict[str, _SimulatedServer] | None = None
        # A lock lives only while some call holds or awaits it, so deleted ids leave nothing.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset(Capability)

    async def open(self) -> None:
        """Load every server from the state directory, creating the directory if needed."""
        self._servers = await asyncio.to_thread(self._files.load_all)
        await self.open_storage(self._files.directory / "volumes", shared=self._shared)
        await self.open_network_state(self._files.directory / "network", shared=self._shared)

    async def close(self) -> None:
        """Forget the in-memory copy; the files stay. Safe to call more than once."""
        self._servers = None
        await self.close_storage()
        self.close_network_state()

    async def check(self) -> None:
        await self._simulate("check")
        self._loaded()
        if not await asyncio.to_thread(self._files.is_writable):
            raise DriverError(
                f"simulator state directory {self._files.directory} is not writable",
                code="unavailable",
            )

    async def create_server(self, spec: ServerSpec) -> ServerInfo:
        async with self._lock_for(spec.id):
            await self._simulate("create_server")
            # One trip to a thread for the look, the write and the log line, not three.
            try:
                server = await asyncio.to_thread(
                    self._files.create, _SimulatedServer.from_spec(spec)
                )
            except OSError as exc:
                raise DriverError(
                    f"cannot save server {spec.id}: {exc}", code="storage_error"
                ) from exc
            self._loaded()[server.id] = server
            return server.info()

    async def delete_server(self, server_id: str) -> None:
        async with self._lock_for(server_id):
            await self._simulate("delete_server")
            await self._remove(server_id)

    async def start_server(self, server_id: str) -> ServerInfo:
        return await self._transition("start_server", server_id, _START)

    async def stop_server(self, server_id: str, *, timeout_s: float = 60.0) -> ServerInfo:
        # A simulated guest always honours the graceful shutdown, so ``timeout_s`` never runs out.
        return await self._transition("stop_server", server_id, _STOP)

    async def reboot_server(self, server_id: str, kind: RebootKind) -> ServerInfo:
        transition = _SOFT_REBOOT if kind is RebootKind.SOFT else _HARD_REBOOT
        return await self._transition("reboot_server", server_id, transition)

    async def pause_server(self, server_id: str) -> ServerInfo:
        return await self._transition("pause_server", server_id, _PAUSE)

    async def resume_server(self, server_id: str) -> ServerInfo:
        return await self._transition("resume_server", server_id, _RESUME)

    async def get_server(self, server_id: str) -> ServerInfo:
        await self._simulate("get_server")
        return (await self._require(server_id)).info()

    async def list_servers(self) -> list[ServerInfo]:
        await self._simulate("list_servers")
        loaded = self._loaded()
        if self._shared:
            servers = await asyncio.to_thread(self._files.read_all)
            loaded.clear()
            loaded.update(servers)
        return [server.info() for server in loaded.values()]

    async def get_console(self, server_id: str) -> ConsoleInfo:
        await self._simulate("get_console")
        await self._require(server_id)
        return ConsoleInfo(type="serial", url=f"simulator://{quote(server_id, safe='')}/console")

    async def set_power_state(self, server_id: str, state: PowerState) -> None:
        """Out-of-band test hook: the server's power state changes behind cloudplane's back.

        Simulates a guest shutting itself down, crashing, or an operator acting on the host, so
        drift handling can be tested. Any state is accepted; no latency or fault applies. Raises
        ``ServerNotFound`` for an unknown id.
        """
        async with self._lock_for(server_id):
            server = await self._require(server_id)
            if server.power_state is not state:
                await self._save(replace(server, power_state=state))

    async def forget_server(self, server_id: str) -> None:
        """Out-of-band test hook: the server vanishes from the backend without cloudplane asking.

        Afterwards ``get_server`` raises ``ServerNotFound`` and ``list_servers`` omits it. No
        latency or fault applies; forgetting an unknown server does nothing.
        """
        async with self._lock_for(server_id):
            await self._remove(server_id)

    async def _transition(
        self, operation: str, server_id: str, transition: _Transition
    ) -> ServerInfo:
        async with self._lock_for(server_id):
            await self._simulate(operation)
            server = await self._require(server_id)
            if server.power_state not in transition.allowed_from:
                raise DriverError(
                    f"cannot {transition.verb} server {server_id} while it is "
                    f"{server.power_state.value}",
                    code="invalid_state",
                )
            if server.power_state is not transition.to:
                server = replace(server, power_state=transition.to)
                await self._save(server)
            return server.info()

    async def _simulate(self, operation: str) -> None:
        """Spend the operation's configured latency, then fail if it is configured to."""
        delay_s = self._latency_s.get(operation, self._latency_s.get(DEFAULT_LATENCY_KEY, 0.0))
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        if operation in self._failing:
            raise DriverError(f"injected fault in {operation}", code="injected_fault")

    async def _save(self, server: _SimulatedServer) -> None:
        # Disk first, memory second: a failed write leaves both as they were. A call cancelled
        # during the write may still reach the disk; repeating it, as callers may, converges.
        try:
            await asyncio.to_thread(self._files.write, server)
        except OSError as exc:
            raise DriverError(
                f"cannot save server {server.id}: {exc}", code="storage_error"
            ) from exc
        self._loaded()[server.id] = server

    async def _remove(self, server_id: str) -> None:
        # The file goes even when memory has no record, so a cancelled earlier write is cleaned up.
        try:
            await asyncio.to_thread(self._files.remove, server_id)
        except OSError as exc:
            raise DriverError(
                f"cannot remove server {server_id}: {exc}", code="storage_error"
            ) from exc
        self._loaded().pop(server_id, None)

    def _lock_for(self, server_id: str) -> asyncio.Lock:
        lock = self._locks.get(server_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[server_id] = lock
        return lock

    def _loaded(self) -> dict[str, _SimulatedServer]:
        if self._servers is None:
            raise DriverError("the simulator driver is not open", code="not_open")
        return self._servers

    async def _current(self, server_id: str) -> _SimulatedServer | None:
        """The server as it is now: in memory, or with a shared directory as its file says
        (another process may have changed it)."""
        loaded = self._loaded()
        if not self._shared:
            return loaded.get(server_id)
        server = await asyncio.to_thread(self._files.read, server_id)
        if server is None:
            loaded.pop(server_id, None)
        else:
            loaded[server_id] = server
        return server

    async def _require(self, server_id: str) -> _SimulatedServer:
        server = await self._current(server_id)
        if server is None:
            raise ServerNotFound(server_id)
        return server


def _latency_in_seconds(latency_ms: Mapping[str, int]) -> dict[str, float]:
    """Validate the latency knob and convert it to seconds."""
    _reject_unknown_operations(set(latency_ms) - {DEFAULT_LATENCY_KEY}, knob="latency_ms")
    negative = sorted(name for name, ms in latency_ms.items() if ms < 0)
    if negative:
        raise ValueError(f"simulator latency_ms must not be negative: {', '.join(negative)}")
    return {name: ms / 1000 for name, ms in latency_ms.items()}


def _validated_operations(fail: Collection[str]) -> frozenset[str]:
    """Validate the fault knob."""
    _reject_unknown_operations(set(fail), knob="fail")
    return frozenset(fail)


def _reject_unknown_operations(names: set[str], *, knob: str) -> None:
    unknown = sorted(names - OPERATIONS)
    if unknown:
        raise ValueError(
            f"simulator {knob} names unknown operations {', '.join(unknown)}; "
            f"known: {', '.join(sorted(OPERATIONS))}"
        )

"""The simulator's networking: networks, ports, floating-IP mappings and port rules in memory.

State is one JSON document, ``<simulator dir>/network/state.json``, replaced atomically (temp
file and rename) after every change, so a new driver over the same directory sees what the
previous one had. All changes go through one lock: networking calls are few and fast here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from cloudplane.drivers.errors import DriverError, ResourceNotFound
from cloudplane.drivers.network_contract import (
    AddressRange,
    Ethertype,
    FloatingIpInfo,
    FloatingIpSpec,
    NetworkInfo,
    NetworkSpec,
    PortInfo,
    PortSpec,
    RuleDirection,
    RuleProtocol,
    SecurityRuleSpec,
)
from cloudplane.drivers.simulator_sharing import exclusive, remove_stale_temp_files

NETWORK_OPERATIONS = frozenset(
    {
        "create_network",
        "delete_network",
        "list_networks",
        "create_port",
        "delete_port",
        "list_ports",
        "associate_floating_ip",
        "disassociate_floating_ip",
        "list_floating_ips",
        "apply_security_groups",
    }
)
"""Operation names the simulator's latency and fault knobs accept for networking."""

_STATE_FORMAT = 1
_STATE_FILE = "state.json"


@dataclass(slots=True)
class _NetworkState:
    networks: dict[str, NetworkSpec] = field(default_factory=dict)
    ports: dict[str, PortSpec] = field(default_factory=dict)
    floating_ips: dict[str, FloatingIpSpec] = field(default_factory=dict)

    def copy(self) -> _NetworkState:
        """A copy whose dicts can change without touching this one (the specs are frozen)."""
        return _NetworkState(dict(self.networks), dict(self.ports), dict(self.floating_ips))

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _STATE_FORMAT,
            "networks": [asdict(spec) for spec in self.networks.values()],
            "ports": [asdict(spec) for spec in self.ports.values()],
            "floating_ips": [asdict(spec) for spec in self.floating_ips.values()],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> _NetworkState:
        if data["format"] != _STATE_FORMAT:
            raise ValueError(f"unknown state format {data['format']!r}")
        networks = [_network_from_json(item) for item in data["networks"]]
        ports = [_port_from_json(item) for item in data["ports"]]
        floating_ips = [FloatingIpSpec(**item) for item in data["floating_ips"]]
        return cls(
            networks={spec.id: spec for spec in networks},
            ports={spec.id: spec for spec in ports},
            floating_ips={spec.id: spec for spec in floating_ips},
        )


def _network_from_json(item: Mapping[str, Any]) -> NetworkSpec:
    pools = tuple(AddressRange(**pool) for pool in item["allocation_pools"])
    return NetworkSpec(**{**item, "allocation_pools": pools})


def _rule_from_json(item: Mapping[str, Any]) -> SecurityRuleSpec:
    return SecurityRuleSpec(
        **{
            **item,
            "direction": RuleDirection(item["direction"]),
            "protocol": RuleProtocol(item["protocol"]),
            "ethertype": Ethertype(item["ethertype"]),
        }
    )


def _port_from_json(item: Mapping[str, Any]) -> PortSpec:
    return PortSpec(
        **{
            **item,
            "fixed_ips": tuple(item["fixed_ips"]),
            "security_rules": tuple(_rule_from_json(rule) for rule in item["security_rules"]),
        }
    )


class _StateFile:
    """Reads and atomically replaces the state document (blocking; called in a thread)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / _STATE_FILE

    def load(self) -> _NetworkState:
        """The saved state (empty when there is none); drops temp files a crash left."""
        # The directory is made by the first write, so a simulator that never touched
        # networking leaves its state directory as the compute half alone would.
        if self.directory.is_dir():
            remove_stale_temp_files(self.directory, ".*.tmp")
        if not self.path.exists():
            return _NetworkState()
        try:
            return _NetworkState.from_json(json.loads(self.path.read_text(encoding="utf-8")))
        except (KeyError, TypeError, ValueError) as exc:
            raise DriverError(
                f"simulator state file {self.path} is unreadable: {exc}", code="corrupt_state"
            ) from exc

    def write(self, document: dict[str, Any]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as temp_file:
                json.dump(document, temp_file)
            os.replace(temp_name, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise


class SimulatedNetwork:
    """The ``NetworkDriver`` half of ``SimulatorDriver``.

    The driver calls ``open_network_state``/``close_network_state`` from its own open/close and
    provides ``_simulate`` (latency and injected faults).
    """

    _network_file: _StateFile | None = None
    _network_state: _NetworkState | None = None
    _network_lock: asyncio.Lock | None = None

    async def _simulate(self, operation: str) -> None:
        """Spend the configured latency and raise an injected fault; the driver provides it."""

    async def open_network_state(self, directory: Path) -> None:
        """Load the networking state kept in ``directory``, creating it if needed."""
        self._network_file = _StateFile(directory)
        self._network_state = await asyncio.to_thread(self._network_file.load)
        self._network_lock = asyncio.Lock()

    def close_network_state(self) -> None:
        """Forget the in-memory copy; the file stays. Safe to call more than once."""
        self._network_state = None

    async def create_network(self, spec: NetworkSpec) -> NetworkInfo:
        async with self._mutating("create_network") as state:
            existing = state.networks.get(spec.id)
            if existing is not None:
                return _network_info(existing)
            state.networks[spec.id] = spec
            await self._save_network(state)
            return _network_info(spec)

    async def delete_network(self, network_id: str) -> None:
        async with self._mutating("delete_network") as state:
            if network_id not in state.networks:
                return
            doomed = {pid for pid, port in state.ports.items() if port.network_id == network_id}
            for port_id in doomed:
                _drop_port(state, port_id)
            del state.networks[network_id]
            await self._save_network(state)

    async def list_networks(self) -> list[NetworkInfo]:
        await self._simulate("list_networks")
        return [_network_info(spec) for spec in (await self._network_reloaded()).networks.values()]

    async def create_port(self, spec: PortSpec) -> PortInfo:
        async with self._mutating("create_port") as state:
            existing = state.ports.get(spec.id)
            if existing is not None:
                return _port_info(existing)
            if spec.network_id not in state.networks:
                raise ResourceNotFound("network", spec.network_id)
            state.ports[spec.id] = spec
            await self._save_network(state)
            return _port_info(spec)

    async def delete_port(self, port_id: str) -> None:
        async with self._mutating("delete_port") as state:
            if port_id in state.ports:
                _drop_port(state, port_id)
                await self._save_network(state)

    async def list_ports(self) -> list[PortInfo]:
        await self._simulate("list_ports")
        return [_port_info(spec) for spec in (await self._network_reloaded()).ports.values()]

    async def associate_floating_ip(self, spec: FloatingIpSpec) -> FloatingIpInfo:
        async with self._mutating("associate_floating_ip") as state:
            port = state.ports.get(spec.port_id)
            if port is None:
                raise ResourceNotFound("port", spec.port_id)
            if spec.fixed_ip not in port.fixed_ips:
                raise DriverError(
                    f"{spec.fixed_ip} is not an address of port {spec.port_id}",
                    code="invalid_address",
                )
            if state.floating_ips.get(spec.id) != spec:
                state.floating_ips[spec.id] = spec
                await self._save_network(state)
            return _floating_ip_info(spec)

    async def disassociate_floating_ip(self, floating_ip_id: str) -> None:
        async with self._mutating("disassociate_floating_ip") as state:
            if state.floating_ips.pop(floating_ip_id, None) is not None:
                await self._save_network(state)

    async def list_floating_ips(self) -> list[FloatingIpInfo]:
        await self._simulate("list_floating_ips")
        state = await self._network_reloaded()
        return [_floating_ip_info(spec) for spec in state.floating_ips.values()]

    async def apply_security_groups(self, port_id: str, rules: Sequence[SecurityRuleSpec]) -> None:
        async with self._mutating("apply_security_groups") as state:
            port = state.ports.get(port_id)
            if port is None:
                raise ResourceNotFound("port", port_id)
            state.ports[port_id] = replace(port, security_rules=tuple(rules))
            await self._save_network(state)

    @contextlib.asynccontextmanager
    async def _mutating(self, operation: str) -> AsyncIterator[_NetworkState]:
        """A working copy of the state under the lock; ``_save`` makes it the state.

        The lock is also the state directory's, so other processes wait too, and the copy is
        made from the file as it is now (another process may have changed it).
        """
        lock = self._network_lock
        if lock is None or self._network_file is None:
            raise DriverError("the simulator driver is not open", code="not_open")
        async with lock, exclusive(self._network_file.directory):
            await self._simulate(operation)
            yield (await self._network_reloaded()).copy()

    async def _network_reloaded(self) -> _NetworkState:
        """The state as its file says now."""
        self._network_loaded()
        assert self._network_file is not None
        self._network_state = await asyncio.to_thread(self._network_file.load)
        return self._network_state

    async def _save_network(self, state: _NetworkState) -> None:
        # Disk first, memory second: a failed write leaves both as they were.
        assert self._network_file is not None
        try:
            await asyncio.to_thread(self._network_file.write, state.to_json())
        except OSError as exc:
            raise DriverError(
                f"cannot save the simulator's network state: {exc}", code="storage_error"
            ) from exc
        self._network_state = state

    def _network_loaded(self) -> _NetworkState:
        if self._network_state is None:
            raise DriverError("the simulator driver is not open", code="not_open")
        return self._network_state


def _drop_port(state: _NetworkState, port_id: str) -> None:
    state.ports.pop(port_id, None)
    for floating_ip_id in [f.id for f in state.floating_ips.values() if f.port_id == port_id]:
        del state.floating_ips[floating_ip_id]


def _network_info(spec: NetworkSpec) -> NetworkInfo:
    return NetworkInfo(id=spec.id, cidr=spec.cidr, backend_id=f"sim-net-{spec.id}")


def _port_info(spec: PortSpec) -> PortInfo:
    return PortInfo(
        id=spec.id,
        network_id=spec.network_id,
        mac=spec.mac,
        fixed_ips=spec.fixed_ips,
        security_rules=spec.security_rules,
        backend_id=f"sim-port-{spec.id}",
    )


def _floating_ip_info(spec: FloatingIpSpec) -> FloatingIpInfo:
    return FloatingIpInfo(id=spec.id, ip=spec.ip, port_id=spec.port_id, fixed_ip=spec.fixed_ip)

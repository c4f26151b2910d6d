"""The simulator's networking: networks, ports, floating-IP mappings, port rules and the peers
of security groups, in memory.

State lives under ``<simulator dir>/network/`` as one JSON file per record
(``networks/<id>.json``, ``ports/<id>.json``, ``floating_ips/<id>.json``,
``group_peers/<id>.json``), each replaced
atomically (temp file and rename), so a new driver over the same directory sees what the
previous one had, and a change costs the same with ten ports or ten thousand. All changes go
through one lock, which keeps the in-memory maps and the files in step. With a directory shared
by several processes, a change reads again only the records it touches, so it too costs the
same however many there are.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from cloudplane.drivers.errors import DriverError, ResourceNotFound
from cloudplane.drivers.network_contract import (
    AddressRange,
    Ethertype,
    FloatingIpInfo,
    FloatingIpSpec,
    GroupPeers,
    NetworkInfo,
    NetworkSpec,
    PortInfo,
    PortSpec,
    RuleDirection,
    RuleProtocol,
    SecurityRuleSpec,
)
from cloudplane.drivers.simulator_sharing import EVERY, remove_stale_temp_files
from cloudplane.kit.process_lock import exclusive

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
        "set_group_peers",
        "delete_group_peers",
        "list_group_peers",
    }
)
"""Operation names the simulator's latency and fault knobs accept for networking."""

_LEGACY_STATE_FILE = "state.json"
"""The single document earlier versions kept; split into records when first loaded."""
_TEMP_PREFIX = "."
_TEMP_SUFFIX = ".tmp"
_LEGACY_KINDS = ("networks", "ports", "floating_ips")
_KINDS = (*_LEGACY_KINDS, "group_peers")

_Spec = NetworkSpec | PortSpec | FloatingIpSpec | GroupPeers


@dataclass(slots=True)
class _NetworkState:
    networks: dict[str, NetworkSpec] = field(default_factory=dict)
    ports: dict[str, PortSpec] = field(default_factory=dict)
    floating_ips: dict[str, FloatingIpSpec] = field(default_factory=dict)
    group_peers: dict[str, GroupPeers] = field(default_factory=dict)


_Records = Mapping[str, Collection[str] | None]
"""What a change reads: per kind (``networks``, ``ports``, ...), the ids it
touches, or ``EVERY``; a kind left out is not read."""


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


def _floating_ip_from_json(item: Mapping[str, Any]) -> FloatingIpSpec:
    return FloatingIpSpec(**item)


def _group_peers_from_json(item: Mapping[str, Any]) -> GroupPeers:
    return GroupPeers(id=item["id"], addresses=tuple(item["addresses"]))


_READERS: Mapping[str, Callable[[Mapping[str, Any]], _Spec]] = {
    "networks": _network_from_json,
    "ports": _port_from_json,
    "floating_ips": _floating_ip_from_json,
    "group_peers": _group_peers_from_json,
}


class _StateFiles:
    """Reads, atomically replaces and removes the record files (blocking; called in a thread)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_of(self, kind: str, record_id: str) -> Path:
        # Quoting keeps any id a single plain file name inside the kind's directory.
        return self.directory / kind / f"{quote(record_id, safe='')}.json"

    def load(self) -> _NetworkState:
        """The saved state (empty when there is none); drops temp files a crash left."""
        # The directories are made by the first write, so a simulator that never touched
        # networking leaves its state directory as the compute half alone would.
        if not self.directory.is_dir():
            return _NetworkState()
        legacy = self.directory / _LEGACY_STATE_FILE
        if legacy.exists():
            self._split_legacy(legacy)
        for kind in _KINDS:
            folder = self.directory / kind
            if folder.is_dir():
                remove_stale_temp_files(folder, f"{_TEMP_PREFIX}*{_TEMP_SUFFIX}")
        return self.load_some(dict.fromkeys(_KINDS, EVERY))

    def load_some(self, records: _Records) -> _NetworkState:
        """The saved records ``records`` selects (missing ids are left out)."""
        state = _NetworkState()
        for kind, record_ids in records.items():
            found: dict[str, Any] = getattr(state, kind)
            if record_ids is EVERY:
                folder = self.directory / kind
                paths = list(folder.glob("*.json")) if folder.is_dir() else []
            else:
                paths = [self.path_of(kind, record_id) for record_id in record_ids]
            for path in paths:
                spec = self._read(path, _READERS[kind])
                if spec is not None:
                    found[spec.id] = spec
        return state

    def write(self, kind: str, spec: _Spec) -> None:
        """Replace one record's file atomically (no fsync, as for the simulator's servers)."""
        folder = self.directory / kind
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=folder, prefix=_TEMP_PREFIX, suffix=_TEMP_SUFFIX)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as temp_file:
                json.dump(asdict(spec), temp_file)
            os.replace(temp_name, self.path_of(kind, spec.id))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise

    def remove(self, kind: str, record_ids: Iterable[str]) -> None:
        for record_id in record_ids:
            self.path_of(kind, record_id).unlink(missing_ok=True)

    def _split_legacy(self, legacy: Path) -> None:
        """Turn the one-document state of earlier versions into record files, then drop it."""
        try:
            data = json.loads(legacy.read_text(encoding="utf-8"))
            if data["format"] != 1:
                raise ValueError(f"unknown state format {data['format']!r}")
            specs = {kind: [_READERS[kind](item) for item in data[kind]] for kind in _LEGACY_KINDS}
        except (KeyError, TypeError, ValueError) as exc:
            raise DriverError(
                f"simulator state file {legacy} is unreadable: {exc}", code="corrupt_state"
            ) from exc
        for kind, records in specs.items():
            for spec in records:
                self.write(kind, spec)
        legacy.unlink()

    @staticmethod
    def _read(path: Path, reader: Callable[[Mapping[str, Any]], _Spec]) -> _Spec | None:
        """The record in ``path``; None when there is no such file (deleted meanwhile)."""
        try:
            return reader(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (KeyError, TypeError, ValueError) as exc:
            raise DriverError(
                f"simulator state file {path} is unreadable: {exc}", code="corrupt_state"
            ) from exc


class SimulatedNetwork:
    """The ``NetworkDriver`` half of ``SimulatorDriver``.

    The driver calls ``open_network_state``/``close_network_state`` from its own open/close and
    provides ``_simulate`` (latency and injected faults).
    """

    _network_files: _StateFiles | None = None
    _network_state: _NetworkState | None = None
    _network_lock: asyncio.Lock | None = None
    _network_shared: bool = False

    async def _simulate(self, operation: str) -> None:
        """Spend the configured latency and raise an injected fault; the driver provides it."""

    async def open_network_state(self, directory: Path, *, shared: bool = False) -> None:
        """Load the networking state kept in ``directory``, creating it if needed.

        ``shared``: other processes use the same directory (the distributed form), so every call
        reads the files again and every change holds the directory's lock. Alone, the state in
        memory is the truth and each call costs only its own records.
        """
        self._network_shared = shared
        self._network_files = _StateFiles(directory)
        self._network_state = await asyncio.to_thread(self._network_files.load)
        self._network_lock = asyncio.Lock()

    def close_network_state(self) -> None:
        """Forget the in-memory copy; the files stay. Safe to call more than once."""
        self._network_state = None

    async def create_network(self, spec: NetworkSpec) -> NetworkInfo:
        async with self._mutating("create_network", networks=[spec.id]) as state:
            existing = state.networks.get(spec.id)
            if existing is not None:
                return _network_info(existing)
            await self._store("networks", spec)
            state.networks[spec.id] = spec
            return _network_info(spec)

    async def delete_network(self, network_id: str) -> None:
        async with self._mutating(
            "delete_network", networks=[network_id], ports=EVERY, floating_ips=EVERY
        ) as state:
            if network_id not in state.networks:
                return
            doomed = [pid for pid, port in state.ports.items() if port.network_id == network_id]
            for port_id in doomed:
                await self._drop_port(state, port_id)
            await self._forget("networks", [network_id])
            del state.networks[network_id]

    async def list_networks(self) -> list[NetworkInfo]:
        await self._simulate("list_networks")
        state = await self._network_current("networks")
        return [_network_info(spec) for spec in state.networks.values()]

    async def create_port(self, spec: PortSpec) -> PortInfo:
        async with self._mutating(
            "create_port", ports=[spec.id], networks=[spec.network_id]
        ) as state:
            existing = state.ports.get(spec.id)
            if existing is not None:
                return _port_info(existing)
            if spec.network_id not in state.networks:
                raise ResourceNotFound("network", spec.network_id)
            await self._store("ports", spec)
            state.ports[spec.id] = spec
            return _port_info(spec)

    async def delete_port(self, port_id: str) -> None:
        async with self._mutating("delete_port", ports=[port_id], floating_ips=EVERY) as state:
            if port_id in state.ports:
                await self._drop_port(state, port_id)

    async def list_ports(self) -> list[PortInfo]:
        await self._simulate("list_ports")
        state = await self._network_current("ports")
        return [_port_info(spec) for spec in state.ports.values()]

    async def associate_floating_ip(self, spec: FloatingIpSpec) -> FloatingIpInfo:
        async with self._mutating(
            "associate_floating_ip", ports=[spec.port_id], floating_ips=[spec.id]
        ) as state:
            port = state.ports.get(spec.port_id)
            if port is None:
                raise ResourceNotFound("port", spec.port_id)
            if spec.fixed_ip not in port.fixed_ips:
                raise DriverError(
                    f"{spec.fixed_ip} is not an address of port {spec.port_id}",
                    code="invalid_address",
                )
            if state.floating_ips.get(spec.id) != spec:
                await self._store("floating_ips", spec)
                state.floating_ips[spec.id] = spec
            return _floating_ip_info(spec)

    async def disassociate_floating_ip(self, floating_ip_id: str) -> None:
        async with self._mutating(
            "disassociate_floating_ip", floating_ips=[floating_ip_id]
        ) as state:
            if floating_ip_id in state.floating_ips:
                await self._forget("floating_ips", [floating_ip_id])
                del state.floating_ips[floating_ip_id]

    async def list_floating_ips(self) -> list[FloatingIpInfo]:
        await self._simulate("list_floating_ips")
        state = await self._network_current("floating_ips")
        return [_floating_ip_info(spec) for spec in state.floating_ips.values()]

    async def apply_security_groups(self, port_id: str, rules: Sequence[SecurityRuleSpec]) -> None:
        async with self._mutating("apply_security_groups", ports=[port_id]) as state:
            port = state.ports.get(port_id)
            if port is None:
                raise ResourceNotFound("port", port_id)
            updated = replace(port, security_rules=tuple(rules))
            await self._store("ports", updated)
            state.ports[port_id] = updated

    async def set_group_peers(self, peers: GroupPeers) -> None:
        async with self._mutating("set_group_peers", group_peers=[peers.id]) as state:
            if state.group_peers.get(peers.id) != peers:
                await self._store("group_peers", peers)
                state.group_peers[peers.id] = peers

    async def delete_group_peers(self, group_id: str) -> None:
        async with self._mutating("delete_group_peers", group_peers=[group_id]) as state:
            if group_id in state.group_peers:
                await self._forget("group_peers", [group_id])
                del state.group_peers[group_id]

    async def list_group_peers(self) -> list[GroupPeers]:
        await self._simulate("list_group_peers")
        state = await self._network_current("group_peers")
        return list(state.group_peers.values())

    @contextlib.asynccontextmanager
    async def _mutating(
        self,
        operation: str,
        *,
        networks: Collection[str] | None = (),
        ports: Collection[str] | None = (),
        floating_ips: Collection[str] | None = (),
        group_peers: Collection[str] | None = (),
    ) -> AsyncIterator[_NetworkState]:
        """The state under the lock; callers change a record's file first, then the map.

        Alone, that is the whole state in memory. With a shared directory the lock is also the
        directory's, so other processes wait too, and the state holds only the records named
        (ids, or ``EVERY`` of a kind), read from the files as they are now.
        """
        lock, files = self._network_lock, self._network_files
        if lock is None or files is None:
            raise DriverError("the simulator driver is not open", code="not_open")
        if not self._network_shared:
            async with lock:
                await self._simulate(operation)
                yield self._network_loaded()
            return
        records = {
            "networks": networks,
            "ports": ports,
            "floating_ips": floating_ips,
            "group_peers": group_peers,
        }
        async with lock, exclusive(files.directory):
            await self._simulate(operation)
            yield await asyncio.to_thread(files.load_some, records)

    async def _network_current(self, kind: str) -> _NetworkState:
        """The state, for reading every record of ``kind``; with a shared directory, those
        records as the files say now."""
        state = self._network_loaded()
        if self._network_shared:
            assert self._network_files is not None
            state = await asyncio.to_thread(self._network_files.load_some, {kind: EVERY})
        return state

    async def _drop_port(self, state: _NetworkState, port_id: str) -> None:
        """A port and the floating-IP mappings onto it, files first."""
        mapped = [f.id for f in state.floating_ips.values() if f.port_id == port_id]
        await self._forget("floating_ips", mapped)
        for floating_ip_id in mapped:
            del state.floating_ips[floating_ip_id]
        await self._forget("ports", [port_id])
        del state.ports[port_id]

    async def _store(self, kind: str, spec: _Spec) -> None:
        # Disk first, memory second: a failed write leaves both as they were.
        assert self._network_files is not None
        try:
            await asyncio.to_thread(self._network_files.write, kind, spec)
        except OSError as exc:
            raise DriverError(
                f"cannot save the simulator's network state: {exc}", code="storage_error"
            ) from exc

    async def _forget(self, kind: str, record_ids: list[str]) -> None:
        if not record_ids:
            return
        assert self._network_files is not None
        try:
            await asyncio.to_thread(self._network_files.remove, kind, record_ids)
        except OSError as exc:
            raise DriverError(
                f"cannot save the simulator's network state: {exc}", code="storage_error"
            ) from exc

    def _network_loaded(self) -> _NetworkState:
        if self._network_state is None:
            raise DriverError("the simulator driver is not open", code="not_open")
        return self._network_state


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

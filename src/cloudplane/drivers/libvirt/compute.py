"""Servers as persistent libvirt domains: build, power, report and remove them."""

from __future__ import annotations

import asyncio
import time
import weakref
from contextlib import suppress
from pathlib import Path

import libvirt

from cloudplane.drivers.base import (
    ConsoleInfo,
    DriverError,
    PowerState,
    RebootKind,
    ServerInfo,
    ServerNotFound,
    ServerSpec,
)
from cloudplane.drivers.libvirt.connection import is_missing, is_not_running
from cloudplane.drivers.libvirt.domain_xml import (
    DiskDevice,
    DomainDefinition,
    vnc_port,
)
from cloudplane.drivers.libvirt.parts import LibvirtParts, host_path
from cloudplane.drivers.libvirt.pools import ensure_dir_pool, find_volume
from cloudplane.drivers.libvirt.volume_xml import VolumeDefinition
from cloudplane.drivers.storage_contract import GIB

_POWER_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: PowerState.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: PowerState.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: PowerState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: PowerState.RUNNING,  # asked to shut down, still running
    libvirt.VIR_DOMAIN_SHUTOFF: PowerState.SHUTDOWN,
    libvirt.VIR_DOMAIN_CRASHED: PowerState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: PowerState.PAUSED,
}

# Removes the domain's managed save image and snapshot metadata with it, and on a real host its
# NVRAM and checkpoint metadata too (the test hypervisor refuses those two flags).
_UNDEFINE_FLAGS_TEST = (
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
)
_UNDEFINE_FLAGS = (
    _UNDEFINE_FLAGS_TEST
    | libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
    | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA
)
_POLL_S = 0.1


def power_state_of(domain: libvirt.virDomain) -> PowerState:
    state, _reason = domain.state()
    return _POWER_STATES.get(state, PowerState.NOSTATE)


class LibvirtCompute(LibvirtParts):
    """The ``ComputeDriver`` half of ``LibvirtDriver``.

    Calls that change one server run one at a time per server in this process (a redelivered
    create must not race the first one into defining, then undefining, the same domain).
    """

    _server_locks: weakref.WeakValueDictionary[str, asyncio.Lock]

    def _lock_for(self, server_id: str) -> asyncio.Lock:
        lock = self._server_locks.get(server_id)
        if lock is None:
            lock = asyncio.Lock()
            self._server_locks[server_id] = lock
        return lock

    async def create_server(self, spec: ServerSpec) -> ServerInfo:
        async with self._lock_for(spec.id):
            return await self._host.call(f"creating server {spec.id}", self._create_blocking, spec)

    async def delete_server(self, server_id: str) -> None:
        async with self._lock_for(server_id):
            await self._host.call(f"deleting server {server_id}", self._delete_blocking, server_id)

    async def start_server(self, server_id: str) -> ServerInfo:
        return await self._host.call(
            f"starting server {server_id}", self._start_blocking, server_id
        )

    async def stop_server(self, server_id: str, *, timeout_s: float = 60.0) -> ServerInfo:
        """ACPI shutdown, then wait (on the event loop, not in a thread) up to the smaller of
        ``timeout_s`` and the configured shutdown timeout, then force the server off."""
        timeout = min(timeout_s, self._options.shutdown_timeout_s)
        doing = f"stopping server {server_id}"
        async with self._lock_for(server_id):
            asked = await self._host.call(doing, self._ask_to_shut_down_blocking, server_id)
            deadline = time.monotonic() + timeout
            while asked and time.monotonic() < deadline:
                if not await self._host.call(doing, self._is_active_blocking, server_id):
                    break
                await asyncio.sleep(_POLL_S)
            return await self._host.call(doing, self._force_off_blocking, server_id)

    async def reboot_server(self, server_id: str, kind: RebootKind) -> ServerInfo:
        return await self._host.call(
            f"rebooting server {server_id}", self._reboot_blocking, server_id, kind
        )

    async def pause_server(self, server_id: str) -> ServerInfo:
        return await self._host.call(f"pausing server {server_id}", self._pause_blocking, server_id)

    async def resume_server(self, server_id: str) -> ServerInfo:
        return await self._host.call(
            f"resuming server {server_id}", self._resume_blocking, server_id
        )

    async def get_server(self, server_id: str) -> ServerInfo:
        return await self._host.call(
            f"reading server {server_id}",
            lambda connection: self._info(self._domain(connection, server_id)),
        )

    async def list_servers(self) -> list[ServerInfo]:
        return await self._host.call("listing servers", self._list_blocking)

    async def get_console(self, server_id: str) -> ConsoleInfo:
        return await self._host.call(
            f"reading the console of server {server_id}", self._console_blocking, server_id
        )

    # --- blocking halves -----------------------------------------------------------------------

    def _create_blocking(self, connection: libvirt.virConnect, spec: ServerSpec) -> ServerInfo:
        with suppress(ServerNotFound):
            return self._info(self._domain(connection, spec.id))
        made_root: libvirt.virStorageVol | None = None
        try:
            disks: list[DiskDevice] = []
            boot = next((device for device in spec.block_devices if device.boot), None)
            if boot is not None:
                path = self._volume_path_blocking(connection, boot.volume_id)
                disks.append(DiskDevice(path=path, target=boot.device, boot_order=1))
            elif spec.image is not None:
                made_root = self._make_root_disk(connection, spec)
                disks.append(DiskDevice(path=made_root.path(), target="vda", boot_order=1))
            for device in spec.block_devices:
                if not device.boot:
                    path = self._volume_path_blocking(connection, device.volume_id)
                    disks.append(DiskDevice(path=path, target=device.device))
            interfaces = tuple(self._plug_blocking(connection, nic) for nic in spec.interfaces)
            definition = DomainDefinition(
                name=self._options.domain_name(spec.id),
                title=spec.name,
                server_id=spec.id,
                virt_type=self._virt_type,
                vcpus=spec.vcpus,
                ram_mb=spec.ram_mb,
                console_log=str(self._options.console_log(spec.id)),
                disks=tuple(disks),
                interfaces=interfaces,
            )
            domain = connection.defineXML(definition.xml())
            try:
                self._boot(connection, domain)
            except libvirt.libvirtError:
                self._undefine(domain)
                raise
            return self._info(domain)
        except BaseException:
            if made_root is not None:
                with suppress(libvirt.libvirtError):
                    made_root.delete(0)
            raise

    def _make_root_disk(
        self, connection: libvirt.virConnect, spec: ServerSpec
    ) -> libvirt.virStorageVol:
        """A qcow2 overlay on the image file: the server's own writes go to it, not the image."""
        image = spec.image
        assert image is not None
        assert image.path is not None
        if self._options.is_local and not Path(image.path).is_file():
            raise DriverError(f"the file of image {image.id} is missing", code="image_unavailable")
        pool = ensure_dir_pool(connection, self._options.disks_pool_name, self._options.disks_dir)
        name = self._options.root_disk_name(spec.id)
        with suppress(libvirt.libvirtError):
            pool.storageVolLookupByName(name).delete(0)  # left by a create that died half-way
        volume = VolumeDefinition(
            name=name,
            capacity_bytes=max(spec.disk_gb, 1) * GIB,
            backing_path=host_path(image.path),
            backing_format="raw" if image.disk_format == "raw" else "qcow2",
        )
        return pool.createXML(volume.xml(), 0)

    def _delete_blocking(self, connection: libvirt.virConnect, server_id: str) -> None:
        try:
            domain = connection.lookupByName(self._options.domain_name(server_id))
        except libvirt.libvirtError as exc:
            if not is_missing(exc):
                raise
        else:
            if domain.isActive():
                _destroy(domain)
            try:
                self._undefine(domain)
            except libvirt.libvirtError as exc:
                if not is_missing(exc):
                    raise
        # What the server owned goes even when the domain was already gone.
        root = find_volume(
            connection, self._options.disks_pool_name, self._options.root_disk_name(server_id)
        )
        if root is not None:
            root.delete(0)
        if self._options.is_local:
            self._options.console_log(server_id).unlink(missing_ok=True)

    def _boot(self, connection: libvirt.virConnect, domain: libvirt.virDomain) -> None:
        """Start the defined domain, its port filters and what they name in place."""
        self._prepare_to_boot(connection, domain).create()

    def _undefine(self, domain: libvirt.virDomain) -> None:
        test = self._host.is_test_driver
        domain.undefineFlags(_UNDEFINE_FLAGS_TEST if test else _UNDEFINE_FLAGS)

    def _start_blocking(self, connection: libvirt.virConnect, server_id: str) -> ServerInfo:
        domain = self._domain(connection, server_id)
        state = power_state_of(domain)
        if state is PowerState.PAUSED:
            raise _invalid_state("start", server_id, state)
        if not domain.isActive():
            self._boot(connection, domain)
        return self._info(domain)

    def _ask_to_shut_down_blocking(self, connection: libvirt.virConnect, server_id: str) -> bool:
        """Press the ACPI power button of a running server; False when there is nothing to ask."""
        domain = self._domain(connection, server_id)
        if power_state_of(domain) is not PowerState.RUNNING:
            return False  # stopped already, or paused (a paused guest cannot react): force it
        try:
            domain.shutdown()
        except libvirt.libvirtError as exc:
            if not is_not_running(exc):
                raise
        return True

    def _is_active_blocking(self, connection: libvirt.virConnect, server_id: str) -> bool:
        return bool(self._domain(connection, server_id).isActive())

    def _force_off_blocking(self, connection: libvirt.virConnect, server_id: str) -> ServerInfo:
        domain = self._domain(connection, server_id)
        if domain.isActive():
            _destroy(domain)  # the guest ignored the request, or it was paused
        return self._info(domain)

    def _reboot_blocking(
        self, connection: libvirt.virConnect, server_id: str, kind: RebootKind
    ) -> ServerInfo:
        domain = self._domain(connection, server_id)
        state = power_state_of(domain)
        if kind is RebootKind.SOFT:
            if state is not PowerState.RUNNING:
                raise _invalid_state("soft-reboot", server_id, state)
            domain.reboot(libvirt.VIR_DOMAIN_REBOOT_DEFAULT)
            return self._info(domain)
        # A hard reboot is a power cycle, and it brings a stopped or paused server back too.
        if domain.isActive():
            _destroy(domain)
        self._boot(connection, domain)
        return self._info(domain)

    def _pause_blocking(self, connection: libvirt.virConnect, server_id: str) -> ServerInfo:
        domain = self._domain(connection, server_id)
        state = power_state_of(domain)
        if state is PowerState.RUNNING:
            domain.suspend()
        elif state is not PowerState.PAUSED:
            raise _invalid_state("pause", server_id, state)
        return self._info(domain)

    def _resume_blocking(self, connection: libvirt.virConnect, server_id: str) -> ServerInfo:
        domain = self._domain(connection, server_id)
        state = power_state_of(domain)
        if state is PowerState.PAUSED:
            domain.resume()
        elif state is not PowerState.RUNNING:
            raise _invalid_state("resume", server_id, state)
        return self._info(domain)

    def _list_blocking(self, connection: libvirt.virConnect) -> list[ServerInfo]:
        servers: list[ServerInfo] = []
        for domain in connection.listAllDomains(0):
            if self._options.server_id_of(domain.name()) is None:
                continue
            try:
                servers.append(self._info(domain))
            except libvirt.libvirtError as exc:
                if not is_missing(exc):  # undefined between listing and reading: skip it
                    raise
        return servers

    def _console_blocking(self, connection: libvirt.virConnect, server_id: str) -> ConsoleInfo:
        domain = self._domain(connection, server_id)
        port = vnc_port(domain.XMLDesc(0)) if domain.isActive() else None
        url = None if port is None else f"vnc://{self._options.console_host}:{port}"
        return ConsoleInfo(type="vnc", url=url)

    def _domain(self, connection: libvirt.virConnect, server_id: str) -> libvirt.virDomain:
        try:
            return connection.lookupByName(self._options.domain_name(server_id))
        except libvirt.libvirtError as exc:
            if is_missing(exc):
                raise ServerNotFound(server_id) from exc
            raise

    def _info(self, domain: libvirt.virDomain) -> ServerInfo:
        server_id = self._options.server_id_of(domain.name())
        assert server_id is not None
        return ServerInfo(
            id=server_id,
            power_state=power_state_of(domain),
            host=self._hypervisor_host,
            backend_id=domain.UUIDString(),
        )


def _destroy(domain: libvirt.virDomain) -> None:
    """Force the domain off; one that stopped on its own in the meantime is fine."""
    try:
        domain.destroy()
    except libvirt.libvirtError as exc:
        if not is_not_running(exc):
            raise


def _invalid_state(verb: str, server_id: str, state: PowerState) -> DriverError:
    return DriverError(
        f"cannot {verb} server {server_id} while it is {state.value}", code="invalid_state"
    )

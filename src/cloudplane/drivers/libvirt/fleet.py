"""Several libvirt hosts behind one driver: placement, routing, and hosts that stop answering.

A new server goes to the host with the most free memory that fits its flavor. Calls about an
existing server go to the host that holds it. A host that does not answer keeps its servers in
``list_servers`` with power state ``nostate`` (as last seen there), so the reconciler shows them
as unknown rather than vanished. Block storage and networks live on the first host: without
storage shared between hosts a volume can only be attached to servers on that host.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path

from cloudplane.drivers.base import (
    ConsoleInfo,
    PowerState,
    RebootKind,
    ServerInfo,
    ServerNotFound,
    ServerSpec,
)
from cloudplane.drivers.capabilities import Capability
from cloudplane.drivers.contract import Driver
from cloudplane.drivers.errors import DriverError
from cloudplane.drivers.host_inventory import HostReport
from cloudplane.drivers.libvirt.driver import LibvirtDriver
from cloudplane.drivers.network_contract import (
    FloatingIpInfo,
    FloatingIpSpec,
    GroupPeers,
    NetworkInfo,
    NetworkSpec,
    PortInfo,
    PortSpec,
    SecurityRuleSpec,
)
from cloudplane.drivers.storage_contract import (
    AttachmentInfo,
    SnapshotInfo,
    VolumeInfo,
    VolumeSpec,
)

_MIB = 1 << 20


def pick_host(reports: Sequence[HostReport], ram_mb: int) -> int | None:
    """Index of the answering host with the most free memory that fits ``ram_mb``, or None."""
    fitting = [
        (report.free_memory_mb, -index)
        for index, report in enumerate(reports)
        if report.up and report.free_memory_mb >= ram_mb
    ]
    return -max(fitting)[1] if fitting else None


class LibvirtFleet(Driver):
    """The driver contract over several ``LibvirtDriver`` hosts (the first is the primary)."""

    name = "libvirt"

    def __init__(self, members: Sequence[LibvirtDriver]) -> None:
        if not members:
            raise ValueError("a fleet needs at least one host")
        self._members = list(members)
        self._primary = self._members[0]
        capabilities = frozenset.intersection(*(m.capabilities for m in self._members))
        if len(self._members) > 1:
            # A port's filter lives on the primary host, but a guest on another host would need
            # it on its own: unfiltered traffic must not pass for filtered. A floating IP's NAT
            # rules, too, could reach only guests on the primary host.
            capabilities -= {
                Capability.FLOATING_IPS,
                Capability.SECURITY_GROUPS,
                Capability.GROUP_PEERS,
                Capability.GROUP_PEERS_WITH_PROTOCOL,
            }
        self._capabilities = capabilities
        # Which servers each host held when it last answered, for when it does not.
        self._last_seen: list[dict[str, ServerInfo]] = [{} for _ in self._members]

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self._capabilities

    async def open(self) -> None:
        """Open every host; one that does not answer now is reported down, not fatal."""
        results = await asyncio.gather(
            *(member.open() for member in self._members), return_exceptions=True
        )
        if all(isinstance(result, BaseException) for result in results):
            raise DriverError("no libvirt host answers", code="unavailable")

    async def close(self) -> None:
        for member in self._members:
            await member.close()

    async def check(self) -> None:
        await self._primary.check()

    async def watch_servers(self, on_change: Callable[[str], None]) -> None:
        for member in self._members:
            # A host that does not answer now is subscribed when its connection is reopened.
            with contextlib.suppress(DriverError):
                await member.watch_servers(on_change)

    async def report_hosts(self) -> list[HostReport]:
        return list(await asyncio.gather(*(m.report_host() for m in self._members)))

    # --- servers -------------------------------------------------------------------------------

    async def create_server(self, spec: ServerSpec) -> ServerInfo:
        try:
            member = await self._member_for(spec.id)
        except ServerNotFound:
            reports = await self.report_hosts()
            index = pick_host(reports, spec.ram_mb)
            if index is None:
                raise DriverError(
                    f"no host has {spec.ram_mb} MB of memory free for server {spec.id}",
                    code="no_valid_host",
                ) from None
            member = self._members[index]
        return await member.create_server(spec)

    async def delete_server(self, server_id: str) -> None:
        for index, member in enumerate(self._members):
            await member.delete_server(server_id)
            self._last_seen[index].pop(server_id, None)

    async def start_server(self, server_id: str) -> ServerInfo:
        return await (await self._member_for(server_id)).start_server(server_id)

    async def stop_server(self, server_id: str, *, timeout_s: float = 60.0) -> ServerInfo:
        member = await self._member_for(server_id)
        return await member.stop_server(server_id, timeout_s=timeout_s)

    async def reboot_server(self, server_id: str, kind: RebootKind) -> ServerInfo:
        return await (await self._member_for(server_id)).reboot_server(server_id, kind)

    async def pause_server(self, server_id: str) -> ServerInfo:
        return await (await self._member_for(server_id)).pause_server(server_id)

    async def resume_server(self, server_id: str) -> ServerInfo:
        return await (await self._member_for(server_id)).resume_server(server_id)

    async def get_server(self, server_id: str) -> ServerInfo:
        return await (await self._member_for(server_id)).get_server(server_id)

    async def get_console(self, server_id: str) -> ConsoleInfo:
        return await (await self._member_for(server_id)).get_console(server_id)

    async def list_servers(self) -> list[ServerInfo]:
        servers: list[ServerInfo] = []
        for index, member in enumerate(self._members):
            try:
                listed = await member.list_servers()
            except DriverError:
                servers.extend(
                    ServerInfo(
                        id=info.id,
                        power_state=PowerState.NOSTATE,
                        host=info.host,
                        backend_id=info.backend_id,
                    )
                    for info in self._last_seen[index].values()
                )
                continue
            self._last_seen[index] = {info.id: info for info in listed}
            servers.extend(listed)
        return servers

    async def _member_for(self, server_id: str) -> LibvirtDriver:
        for index, member in enumerate(self._members):
            if server_id in self._last_seen[index]:
                return member
        for index, member in enumerate(self._members):
            try:
                info = await member.get_server(server_id)
            except ServerNotFound:
                continue
            except DriverError:
                continue  # a host that does not answer cannot be the one to act on
            self._last_seen[index][server_id] = info
            return member
        raise ServerNotFound(server_id)

    # --- storage and networks: on the primary host ---------------------------------------------

    async def create_volume(self, spec: VolumeSpec) -> VolumeInfo:
        return await self._primary.create_volume(spec)

    async def delete_volume(self, volume_id: str) -> None:
        await self._primary.delete_volume(volume_id)

    async def extend_volume(self, volume_id: str, size_gb: int) -> VolumeInfo:
        return await self._primary.extend_volume(volume_id, size_gb)

    async def create_snapshot(self, snapshot_id: str, volume_id: str) -> SnapshotInfo:
        return await self._primary.create_snapshot(snapshot_id, volume_id)

    async def delete_snapshot(self, snapshot_id: str) -> None:
        await self._primary.delete_snapshot(snapshot_id)

    async def attach_volume(self, server_id: str, volume_id: str, device: str) -> AttachmentInfo:
        return await self._primary.attach_volume(server_id, volume_id, device)

    async def detach_volume(self, server_id: str, volume_id: str) -> None:
        await self._primary.detach_volume(server_id, volume_id)

    async def get_volume(self, volume_id: str) -> VolumeInfo:
        return await self._primary.get_volume(volume_id)

    async def list_volumes(self) -> list[VolumeInfo]:
        return await self._primary.list_volumes()

    async def get_snapshot(self, snapshot_id: str) -> SnapshotInfo:
        return await self._primary.get_snapshot(snapshot_id)

    async def export_volume(self, volume_id: str, destination: Path) -> str:
        return await self._primary.export_volume(volume_id, destination)

    async def import_volume(self, volume_id: str, source: Path, disk_format: str) -> None:
        await self._primary.import_volume(volume_id, source, disk_format)

    async def create_network(self, spec: NetworkSpec) -> NetworkInfo:
        return await self._primary.create_network(spec)

    async def delete_network(self, network_id: str) -> None:
        await self._primary.delete_network(network_id)

    async def list_networks(self) -> list[NetworkInfo]:
        return await self._primary.list_networks()

    async def create_port(self, spec: PortSpec) -> PortInfo:
        return await self._primary.create_port(spec)

    async def delete_port(self, port_id: str) -> None:
        await self._primary.delete_port(port_id)

    async def list_ports(self) -> list[PortInfo]:
        return await self._primary.list_ports()

    async def associate_floating_ip(self, spec: FloatingIpSpec) -> FloatingIpInfo:
        return await self._primary.associate_floating_ip(spec)

    async def disassociate_floating_ip(self, floating_ip_id: str) -> None:
        await self._primary.disassociate_floating_ip(floating_ip_id)

    async def list_floating_ips(self) -> list[FloatingIpInfo]:
        return await self._primary.list_floating_ips()

    async def apply_security_groups(self, port_id: str, rules: Sequence[SecurityRuleSpec]) -> None:
        await self._primary.apply_security_groups(port_id, rules)

    async def set_group_peers(self, peers: GroupPeers) -> None:
        await self._primary.set_group_peers(peers)

    async def delete_group_peers(self, group_id: str) -> None:
        await self._primary.delete_group_peers(group_id)

    async def list_group_peers(self) -> list[GroupPeers]:
        return await self._primary.list_group_peers()

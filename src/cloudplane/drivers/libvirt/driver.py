"""``LibvirtDriver``: the whole driver contract on one libvirt host."""

from __future__ import annotations

import asyncio
import weakref
import xml.etree.ElementTree as ET
from collections.abc import Callable

import libvirt

from cloudplane.drivers.capabilities import Capability
from cloudplane.drivers.contract import Driver
from cloudplane.drivers.errors import DriverError
from cloudplane.drivers.host_inventory import HostReport
from cloudplane.drivers.libvirt.compute import LibvirtCompute
from cloudplane.drivers.libvirt.connection import (
    HostConnection,
    as_driver_error,
    silence_default_error_printing,
)
from cloudplane.drivers.libvirt.events import LifecycleWatch, ensure_event_loop
from cloudplane.drivers.libvirt.floating_ip_nat import FloatingIpNat, iptables_usable
from cloudplane.drivers.libvirt.floating_ips import LibvirtFloatingIps
from cloudplane.drivers.libvirt.group_peers import LibvirtGroupPeers
from cloudplane.drivers.libvirt.network import LibvirtNetwork
from cloudplane.drivers.libvirt.options import LibvirtOptions
from cloudplane.drivers.libvirt.peer_sets import PeerSets, ipset_usable
from cloudplane.drivers.libvirt.records import RecordFiles
from cloudplane.drivers.libvirt.storage import LibvirtStorage

_ALWAYS = frozenset(
    {Capability.PAUSE, Capability.SOFT_REBOOT, Capability.CONSOLE, Capability.SNAPSHOTS}
)
# libvirt's test hypervisor cannot hot-plug or resize, writes no files, and has no network
# filters.
_REAL_HYPERVISOR = frozenset(
    {Capability.HOT_ATTACH, Capability.VOLUME_EXTEND_ONLINE, Capability.SECURITY_GROUPS}
)


class LibvirtDriver(
    LibvirtCompute,
    LibvirtStorage,
    LibvirtNetwork,
    LibvirtGroupPeers,
    LibvirtFloatingIps,
    Driver,
):
    """Servers, volumes and networks on the libvirt host ``options.uri``.

    Copying volume data (``VOLUME_DATA``) runs ``qemu-img`` here, groups' peers
    (``GROUP_PEERS``) are ipsets in this machine's kernel and floating IPs (``FLOATING_IPS``)
    its NAT rules, so all three are offered only for a local host.
    """

    name = "libvirt"

    def __init__(self, options: LibvirtOptions, *, nat_networks: bool = False) -> None:
        self._options = options
        self._host = HostConnection(options.uri)
        self._records = RecordFiles(options.records_dir)
        self._nat = nat_networks
        # A lock lives only while some call holds or awaits it, so deleted ids leave nothing.
        self._server_locks = weakref.WeakValueDictionary()
        capabilities = set(_ALWAYS)
        if not self._host.is_test_driver:
            capabilities |= _REAL_HYPERVISOR
            if options.is_local:
                capabilities.add(Capability.VOLUME_DATA)
            if options.is_local and ipset_usable():
                # The sets live in this machine's kernel, so only a local host can use them.
                # Rules with a protocol match sets of pairs or list the members (group_peers).
                self._peer_sets = PeerSets(options.name_prefix)
                capabilities |= {Capability.GROUP_PEERS, Capability.GROUP_PEERS_WITH_PROTOCOL}
            if options.is_local and iptables_usable():
                # NAT rules in this machine's kernel too.
                self._floating_nat = FloatingIpNat(options.name_prefix)
                capabilities.add(Capability.FLOATING_IPS)
        self._capabilities = frozenset(capabilities)

    @property
    def options(self) -> LibvirtOptions:
        return self._options

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self._capabilities

    async def open(self) -> None:
        """Connect, learn the host's name and whether it offers KVM, and bring port filters
        written by an older version up to date."""
        silence_default_error_printing()
        ensure_event_loop()  # before the first connection, or it never delivers events
        if self._options.is_local:
            self._options.consoles_dir.mkdir(parents=True, exist_ok=True)
        self._hypervisor_host, self._virt_type = await self._host.call(
            f"connecting to {self._options.uri}", self._probe_blocking
        )
        await self._bring_filters_up_to_date()

    async def watch_servers(self, on_change: Callable[[str], None]) -> None:
        """Report lifecycle events of our domains (see ``ServerEventSource``)."""
        watch = LifecycleWatch(self._options.server_id_of, on_change, asyncio.get_running_loop())
        try:
            await asyncio.to_thread(self._host.on_open, watch.register)
        except libvirt.libvirtError as exc:
            raise as_driver_error(exc, "subscribing to domain events") from exc

    async def close(self) -> None:
        await asyncio.to_thread(self._host.close)

    async def check(self) -> None:
        alive = await self._host.call("checking the connection", lambda c: bool(c.isAlive()))
        if not alive:
            raise DriverError(f"libvirt at {self._options.uri} does not answer", code="unavailable")

    async def report_hosts(self) -> list[HostReport]:
        """This driver's one host (see ``HostInventory``)."""
        return [await self.report_host()]

    async def report_host(self) -> HostReport:
        """Ask the host for its capacity; a host that does not answer is reported down."""
        try:
            vcpus, memory_mb, free_mb = await self._host.call(
                "reading the host's capacity", _capacity_blocking, self._host.is_test_driver
            )
            name = await self._host.call("reading the host's name", lambda c: c.getHostname())
        except DriverError as exc:
            return HostReport(
                uri=self._options.uri, up=False, name=self._hypervisor_host, error=exc.message
            )
        self._hypervisor_host = str(name)
        return HostReport(
            uri=self._options.uri,
            up=True,
            name=self._hypervisor_host,
            vcpus=vcpus,
            memory_mb=memory_mb,
            free_memory_mb=free_mb,
        )

    def _probe_blocking(self, connection: libvirt.virConnect) -> tuple[str, str]:
        hostname = str(connection.getHostname())
        if self._host.is_test_driver:
            return hostname, "test"
        if self._options.virt_type != "auto":
            return hostname, self._options.virt_type
        return hostname, "kvm" if _offers_kvm(connection.getCapabilities()) else "qemu"


def _capacity_blocking(connection: libvirt.virConnect, test: bool) -> tuple[int, int, int]:
    """CPUs, memory and free memory (MiB) of the host."""
    if not connection.isAlive():
        raise DriverError("the connection to the host is dead", code="unavailable")
    _model, memory_mb, cpus, *_rest = connection.getInfo()
    if test:
        # libvirt's test hypervisor does not track free memory: count what its domains use.
        used_kib = sum(d.info()[2] for d in connection.listAllDomains(0) if d.isActive())
        free_mb = int(memory_mb) - used_kib // (1 << 10)
    else:
        free_mb = int(connection.getFreeMemory()) // (1 << 20)
    return int(cpus), int(memory_mb), free_mb


def _offers_kvm(capabilities_xml: str) -> bool:
    """True when the host can run x86_64 guests under KVM (else they are emulated by QEMU)."""
    root = ET.fromstring(capabilities_xml)
    for guest in root.iterfind("guest"):
        arch = guest.find("arch")
        if (
            arch is not None
            and arch.get("name") == "x86_64"
            and arch.find("domain[@type='kvm']") is not None
        ):
            return True
    return False

"""How one libvirt driver is set up, and how cloudplane names what it makes on the host."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

VirtType = Literal["auto", "kvm", "qemu"]

REMOTE_CONSOLES_DIR = Path("/var/log/libvirt/qemu")


@dataclass(frozen=True, slots=True)
class LibvirtOptions:
    """Settings of one libvirt driver.

    Every domain, volume, pool, network and port filter the driver makes is named
    ``name_prefix`` + what it is, and the driver lists only objects with that prefix, so two
    cloudplanes (or a test run and a real install) can share a host without seeing each other's
    objects.
    ``state_dir`` holds the server disks pool, serial console logs and the volume records.
    """

    uri: str
    state_dir: Path
    name_prefix: str = "cloudplane-"
    virt_type: VirtType = "auto"
    shutdown_timeout_s: float = 60.0
    """Longest a graceful (ACPI) shutdown may take before the server is forced off."""

    @property
    def is_local(self) -> bool:
        """True when the host is this machine, so its files can be read and written here."""
        return not urlsplit(self.uri).netloc

    @property
    def console_host(self) -> str:
        """Where a VNC client connects: the URI's host, or loopback for a local one."""
        return urlsplit(self.uri).hostname or "127.0.0.1"

    @property
    def disks_dir(self) -> Path:
        return self.state_dir / "disks"

    @property
    def consoles_dir(self) -> Path:
        """Where serial console logs go: on a remote host, libvirt's own log directory (which
        exists on every host), since the state directory lives on this machine."""
        return self.state_dir / "consoles" if self.is_local else REMOTE_CONSOLES_DIR

    @property
    def network_changes_dir(self) -> Path:
        """Where the lock lives that lets one process at a time change networks and ports."""
        return self.state_dir / "network-changes"

    @property
    def records_dir(self) -> Path:
        return self.state_dir / "records"

    def domain_name(self, server_id: str) -> str:
        return f"{self.name_prefix}{server_id}"

    def server_id_of(self, domain_name: str) -> str | None:
        """The server id behind one of our domain names, or None for a domain not ours."""
        if not domain_name.startswith(self.name_prefix):
            return None
        rest = domain_name[len(self.name_prefix) :]
        return None if rest.startswith(("pool-", "net-")) else rest

    def root_disk_name(self, server_id: str) -> str:
        return f"{self.name_prefix}{server_id}-root.qcow2"

    def console_log(self, server_id: str) -> Path:
        return self.consoles_dir / f"{self.name_prefix}{server_id}-serial.log"

    @property
    def disks_pool_name(self) -> str:
        return f"{self.name_prefix}pool-disks"

    def pool_name(self, path_digest: str) -> str:
        return f"{self.name_prefix}pool-{path_digest}"

    def is_own_pool(self, pool_name: str) -> bool:
        """Whether cloudplane named (and so made) the pool ``pool_name``."""
        return pool_name.startswith(f"{self.name_prefix}pool-")

    def volume_name(self, volume_id: str) -> str:
        return f"{self.name_prefix}vol-{volume_id}.qcow2"

    def snapshot_name(self, snapshot_id: str) -> str:
        return f"{self.name_prefix}snap-{snapshot_id}.qcow2"

    def network_name(self, network_id: str) -> str:
        return f"{self.name_prefix}net-{network_id}"

    def network_id_of(self, network_name: str) -> str | None:
        head = f"{self.name_prefix}net-"
        return network_name[len(head) :] if network_name.startswith(head) else None

    def port_filter_name(self, port_id: str) -> str:
        return f"{self.name_prefix}port-{port_id}"

    def port_id_of_filter(self, filter_name: str) -> str | None:
        head = f"{self.name_prefix}port-"
        return filter_name[len(head) :] if filter_name.startswith(head) else None

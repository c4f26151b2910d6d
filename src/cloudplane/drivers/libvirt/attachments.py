"""Which volume files our servers' domains use, and pausing a domain around a copy (blocking)."""

from __future__ import annotations

import libvirt

from cloudplane.drivers.libvirt.connection import is_missing
from cloudplane.drivers.libvirt.domain_xml import attached_disks
from cloudplane.drivers.libvirt.options import LibvirtOptions
from cloudplane.drivers.storage_contract import AttachmentInfo


def disks_of_servers(
    connection: libvirt.virConnect, options: LibvirtOptions
) -> dict[str, AttachmentInfo]:
    """Every disk file in our servers' persistent definitions → (server, device).

    The persistent definition is what the server has after any restart, and what attach and
    detach change first, so it is the record of attachments. ``volume_id`` is left empty: the
    caller knows which volume a file is.
    """
    found: dict[str, AttachmentInfo] = {}
    for domain in connection.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_PERSISTENT):
        server_id = options.server_id_of(domain.name())
        if server_id is None:
            continue
        try:
            config = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        except libvirt.libvirtError as exc:
            if is_missing(exc):
                continue  # undefined between listing and reading
            raise
        for disk in attached_disks(config):
            found[disk.path] = AttachmentInfo("", server_id, disk.target)
    return found


class Paused:
    """Pause a running domain for the ``with`` block and resume it after (if it was running).

    Pausing makes QEMU drain and flush its I/O, so a copy of its disks made meanwhile is
    consistent as of that moment.
    """

    def __init__(self, domain: libvirt.virDomain) -> None:
        self._domain = domain
        self._was_running = False

    def __enter__(self) -> None:
        state, _reason = self._domain.state()
        self._was_running = state == libvirt.VIR_DOMAIN_RUNNING
        if self._was_running:
            self._domain.suspend()

    def __exit__(self, *_exc: object) -> None:
        if self._was_running:
            self._domain.resume()

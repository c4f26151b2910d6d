"""Typed builders for libvirt domain XML, and the few things cloudplane reads back from it.

A domain is described by small frozen dataclasses and rendered with ElementTree, never by
filling in a string template, so every value is escaped and every element is well formed.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

METADATA_NAMESPACE = "https://cloudplane.invalid/xmlns/libvirt/server/1"
"""The namespace of cloudplane's element inside a domain's ``<metadata>``."""


@dataclass(frozen=True, slots=True)
class DiskDevice:
    """A file-backed virtio disk: ``path`` on the host, seen by the guest as ``target`` (vda…)."""

    path: str
    target: str
    format: str = "qcow2"
    boot_order: int | None = None

    def element(self) -> ET.Element:
        disk = ET.Element("disk", type="file", device="disk")
        ET.SubElement(disk, "driver", name="qemu", type=self.format)
        ET.SubElement(disk, "source", file=self.path)
        ET.SubElement(disk, "target", dev=self.target, bus="virtio")
        if self.boot_order is not None:
            ET.SubElement(disk, "boot", order=str(self.boot_order))
        return disk

    def xml(self) -> str:
        return ET.tostring(self.element(), encoding="unicode")


@dataclass(frozen=True, slots=True)
class NetworkInterface:
    """A virtio NIC on the libvirt network ``network`` with a fixed ``mac``, its traffic
    filtered by the nwfilter ``port_filter`` when there is one."""

    network: str
    mac: str
    port_filter: str | None = None

    def element(self) -> ET.Element:
        interface = ET.Element("interface", type="network")
        ET.SubElement(interface, "mac", address=self.mac)
        ET.SubElement(interface, "source", network=self.network)
        ET.SubElement(interface, "model", type="virtio")
        if self.port_filter is not None:
            ET.SubElement(interface, "filterref", filter=self.port_filter)
        return interface


@dataclass(frozen=True, slots=True)
class DomainDefinition:
    """Everything cloudplane puts in a domain.

    ``virt_type`` is ``kvm`` or ``qemu`` (TCG emulation). The first serial port is written to
    ``console_log``; the graphical console is VNC on 127.0.0.1 on a port libvirt picks.
    """

    name: str
    title: str
    server_id: str
    virt_type: str
    vcpus: int
    ram_mb: int
    console_log: str
    disks: tuple[DiskDevice, ...] = ()
    interfaces: tuple[NetworkInterface, ...] = ()

    def xml(self) -> str:
        domain = ET.Element("domain", type=self.virt_type)
        ET.SubElement(domain, "name").text = self.name
        ET.SubElement(domain, "title").text = self.title
        metadata = ET.SubElement(domain, "metadata")
        ET.SubElement(metadata, f"{{{METADATA_NAMESPACE}}}server", id=self.server_id)
        ET.SubElement(domain, "memory", unit="MiB").text = str(self.ram_mb)
        ET.SubElement(domain, "vcpu").text = str(self.vcpus)
        os_element = ET.SubElement(domain, "os")
        ET.SubElement(os_element, "type", arch="x86_64", machine="pc").text = "hvm"
        features = ET.SubElement(domain, "features")
        ET.SubElement(features, "acpi")  # without it a graceful shutdown can never be asked for
        ET.SubElement(domain, "on_poweroff").text = "destroy"
        ET.SubElement(domain, "on_reboot").text = "restart"
        ET.SubElement(domain, "on_crash").text = "destroy"
        devices = ET.SubElement(domain, "devices")
        for disk in self.disks:
            devices.append(disk.element())
        for interface in self.interfaces:
            devices.append(interface.element())
        serial = ET.SubElement(devices, "serial", type="file")
        ET.SubElement(serial, "source", path=self.console_log, append="on")
        ET.SubElement(serial, "target", port="0")
        graphics = ET.SubElement(devices, "graphics", type="vnc", port="-1", autoport="yes")
        ET.SubElement(graphics, "listen", type="address", address="127.0.0.1")
        return ET.tostring(domain, encoding="unicode")


@dataclass(frozen=True, slots=True)
class AttachedDisk:
    """A disk as read back from a domain's XML."""

    path: str
    target: str


def attached_disks(domain_xml: str) -> list[AttachedDisk]:
    """The file-backed disks of a domain, in document order."""
    root = ET.fromstring(domain_xml)
    disks: list[AttachedDisk] = []
    for disk in root.iterfind("./devices/disk"):
        source = disk.find("source")
        target = disk.find("target")
        if source is None or target is None:
            continue
        path = source.get("file")
        dev = target.get("dev")
        if path and dev:
            disks.append(AttachedDisk(path=path, target=dev))
    return disks


def disk_alias(domain_xml: str, path: str) -> str | None:
    """The device alias QEMU knows the disk backed by ``path`` by, in a running domain's XML."""
    for disk in ET.fromstring(domain_xml).iterfind("./devices/disk"):
        source = disk.find("source")
        alias = disk.find("alias")
        if source is not None and source.get("file") == path and alias is not None:
            return alias.get("name")
    return None


def vnc_port(domain_xml: str) -> int | None:
    """The VNC port of a running domain's live XML, or None when it has none yet."""
    graphics = ET.fromstring(domain_xml).find("./devices/graphics[@type='vnc']")
    if graphics is None:
        return None
    port = int(graphics.get("port", "-1"))
    return port if port > 0 else None


def console_log_path(domain_xml: str) -> str | None:
    """Where the first serial port of the domain is written, if to a file."""
    source = ET.fromstring(domain_xml).find("./devices/serial[@type='file']/source")
    return None if source is None else source.get("path")


@dataclass(frozen=True, slots=True)
class UnfilteredNic:
    """An interface of a domain that refers to no network filter."""

    network: str
    mac: str


def unfiltered_nics(domain_xml: str) -> list[UnfilteredNic]:
    """The domain's interfaces on libvirt networks without a ``filterref``, in order."""
    found = []
    for interface in ET.fromstring(domain_xml).iterfind("./devices/interface[@type='network']"):
        source, mac = interface.find("source"), interface.find("mac")
        if interface.find("filterref") is None and source is not None and mac is not None:
            found.append(
                UnfilteredNic(network=source.get("network", ""), mac=mac.get("address", ""))
            )
    return found


def with_port_filters(domain_xml: str, filters: dict[str, str]) -> str:
    """``domain_xml`` with ``filterref`` ``filters[mac]`` added to each interface whose MAC is
    in ``filters`` and that has none."""
    root = ET.fromstring(domain_xml)
    for interface in root.iterfind("./devices/interface[@type='network']"):
        mac = interface.find("mac")
        name = filters.get(mac.get("address", "")) if mac is not None else None
        if name is not None and interface.find("filterref") is None:
            ET.SubElement(interface, "filterref", filter=name)
    return ET.tostring(root, encoding="unicode")


def port_filters_of(domain_xml: str) -> list[str]:
    """The nwfilters the domain's interfaces refer to, in document order."""
    return [
        name
        for reference in ET.fromstring(domain_xml).iterfind("./devices/interface/filterref")
        if (name := reference.get("filter"))
    ]


def disk_element(path: str, target: str) -> str:
    """The ``<disk>`` XML to hot-plug or unplug the qcow2 file ``path`` as ``target``."""
    return DiskDevice(path=path, target=target).xml()


ET.register_namespace("cloudplane", METADATA_NAMESPACE)

"""The typed XML builders of the libvirt driver, and what it reads back from libvirt's XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from cloudplane.drivers.libvirt.domain_xml import (
    METADATA_NAMESPACE,
    DiskDevice,
    DomainDefinition,
    NetworkInterface,
    UnfilteredNic,
    attached_disks,
    console_log_path,
    disk_alias,
    port_filters_of,
    unfiltered_nics,
    vnc_port,
    with_port_filters,
)
from cloudplane.drivers.libvirt.network_xml import (
    DhcpHost,
    NetworkDefinition,
    dhcp_hosts,
    network_cidr,
)
from cloudplane.drivers.libvirt.volume_xml import VolumeDefinition


def a_domain(**overrides: object) -> DomainDefinition:
    fields: dict[str, object] = {
        "name": "cp-1",
        "title": "web <1> & co",
        "server_id": "1",
        "virt_type": "qemu",
        "vcpus": 2,
        "ram_mb": 128,
        "console_log": "/var/log/cp-1-serial.log",
        "disks": (DiskDevice(path="/d/root.qcow2", target="vda", boot_order=1),),
        "interfaces": (NetworkInterface(network="cp-net-1", mac="fa:16:3e:00:00:01"),),
    }
    fields.update(overrides)
    return DomainDefinition(**fields)  # type: ignore[arg-type]


def test_a_domain_has_its_resources_disks_nics_serial_log_and_loopback_vnc() -> None:
    root = ET.fromstring(a_domain().xml())

    assert root.get("type") == "qemu"
    assert root.findtext("title") == "web <1> & co"  # escaped on the way out, intact back
    assert (root.findtext("vcpu"), root.findtext("memory")) == ("2", "128")
    assert root.find(f"metadata/{{{METADATA_NAMESPACE}}}server") is not None
    assert root.find("features/acpi") is not None  # a graceful shutdown needs it
    disk = root.find("devices/disk")
    assert disk is not None
    assert disk.find("target").get("bus") == "virtio"  # type: ignore[union-attr]
    assert root.find("devices/interface/mac").get("address") == "fa:16:3e:00:00:01"  # type: ignore[union-attr]
    assert root.find("devices/graphics/listen").get("address") == "127.0.0.1"  # type: ignore[union-attr]
    assert console_log_path(a_domain().xml()) == "/var/log/cp-1-serial.log"


def test_interfaces_without_a_filter_are_found_and_given_theirs() -> None:
    xml = a_domain(
        interfaces=(
            NetworkInterface(network="cp-net-1", mac="fa:16:3e:00:00:01"),
            NetworkInterface(network="cp-net-2", mac="fa:16:3e:00:00:02", port_filter="cp-port-2"),
            NetworkInterface(network="cp-net-3", mac="fa:16:3e:00:00:03"),
        )
    ).xml()

    assert unfiltered_nics(xml) == [
        UnfilteredNic(network="cp-net-1", mac="fa:16:3e:00:00:01"),
        UnfilteredNic(network="cp-net-3", mac="fa:16:3e:00:00:03"),
    ]
    filtered = with_port_filters(
        xml, {"fa:16:3e:00:00:01": "cp-port-1", "fa:16:3e:00:00:02": "cp-port-other"}
    )
    assert port_filters_of(filtered) == ["cp-port-1", "cp-port-2"]  # a filterref is kept
    assert unfiltered_nics(filtered) == [UnfilteredNic(network="cp-net-3", mac="fa:16:3e:00:00:03")]


def test_disks_and_the_vnc_port_are_read_back_from_a_live_domain() -> None:
    live = a_domain().xml().replace('port="-1"', 'port="5901"')
    root = ET.fromstring(live)
    disk = root.find("devices/disk")
    assert disk is not None
    ET.SubElement(disk, "alias", name="virtio-disk0")

    text = ET.tostring(root, encoding="unicode")

    assert [(d.path, d.target) for d in attached_disks(text)] == [("/d/root.qcow2", "vda")]
    assert disk_alias(text, "/d/root.qcow2") == "virtio-disk0"
    assert disk_alias(text, "/elsewhere.qcow2") is None
    assert vnc_port(text) == 5901
    assert vnc_port(a_domain().xml()) is None  # not started: no port yet


def test_a_volume_from_an_image_is_an_overlay_on_the_image_file() -> None:
    root = ET.fromstring(
        VolumeDefinition("v.qcow2", 1 << 30, backing_path="/img/tiny", backing_format="raw").xml()
    )

    assert root.findtext("capacity") == str(1 << 30)
    assert root.find("target/format").get("type") == "qcow2"  # type: ignore[union-attr]
    assert root.findtext("backingStore/path") == "/img/tiny"
    assert root.find("backingStore/format").get("type") == "raw"  # type: ignore[union-attr]
    assert ET.fromstring(VolumeDefinition("b.qcow2", 1).xml()).find("backingStore") is None


def test_a_network_is_isolated_unless_nat_and_its_ports_read_back_as_dhcp_hosts() -> None:
    isolated = NetworkDefinition("n", "10.1.0.0/24", "10.1.0.1", (("10.1.0.2", "10.1.0.9"),))
    nat = NetworkDefinition("n", "10.1.0.0/24", "10.1.0.1", (), nat=True)

    root = ET.fromstring(isolated.xml())
    assert root.find("forward") is None
    assert ET.fromstring(nat.xml()).find("forward").get("mode") == "nat"  # type: ignore[union-attr]
    dhcp = root.find("ip/dhcp")
    assert dhcp is not None
    dhcp.append(ET.fromstring(DhcpHost("p1", "fa:16:3e:00:00:02", "10.1.0.5").xml()))
    ET.SubElement(dhcp, "host", mac="52:54:00:00:00:09", name="someone-else", ip="10.1.0.6")

    text = ET.tostring(root, encoding="unicode")

    assert dhcp_hosts(text) == [DhcpHost("p1", "fa:16:3e:00:00:02", "10.1.0.5")]
    assert network_cidr(text) == "10.1.0.0/24"

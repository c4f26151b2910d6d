"""Typed builders for libvirt network XML, and reading networks and DHCP hosts back."""

from __future__ import annotations

import ipaddress
import xml.etree.ElementTree as ET
from dataclasses import dataclass

PORT_HOST_PREFIX = "port-"
"""A port is a static DHCP host entry named ``port-<port id>`` (a valid host name)."""


@dataclass(frozen=True, slots=True)
class DhcpHost:
    """A static DHCP lease: the port's MAC always gets ``ip``."""

    port_id: str
    mac: str
    ip: str

    def xml(self) -> str:
        host = ET.Element(
            "host", mac=self.mac, name=f"{PORT_HOST_PREFIX}{self.port_id}", ip=self.ip
        )
        return ET.tostring(host, encoding="unicode")


@dataclass(frozen=True, slots=True)
class NetworkDefinition:
    """An isolated network (no ``<forward>``) or a NAT one, with DHCP on its allocation pools."""

    name: str
    cidr: str
    gateway_ip: str | None
    ranges: tuple[tuple[str, str], ...]
    nat: bool = False

    def xml(self) -> str:
        network = ET.Element("network")
        ET.SubElement(network, "name").text = self.name
        if self.nat:
            ET.SubElement(network, "forward", mode="nat")
        subnet = ipaddress.ip_network(self.cidr, strict=False)
        if self.gateway_ip is not None:
            family = "ipv6" if subnet.version == 6 else "ipv4"
            ip = ET.SubElement(
                network,
                "ip",
                family=family,
                address=self.gateway_ip,
                prefix=str(subnet.prefixlen),
            )
            if self.ranges:
                dhcp = ET.SubElement(ip, "dhcp")
                for start, end in self.ranges:
                    ET.SubElement(dhcp, "range", start=start, end=end)
        else:
            # Without an address on the bridge there is no DHCP; the CIDR is kept for reporting.
            ET.SubElement(network, "description").text = f"cidr={self.cidr}"
        return ET.tostring(network, encoding="unicode")


def network_cidr(network_xml: str) -> str | None:
    root = ET.fromstring(network_xml)
    ip = root.find("ip")
    if ip is not None and ip.get("address") and ip.get("prefix"):
        return str(ipaddress.ip_network(f"{ip.get('address')}/{ip.get('prefix')}", strict=False))
    description = root.findtext("description") or ""
    return description.removeprefix("cidr=") if description.startswith("cidr=") else None


def dhcp_hosts(network_xml: str) -> list[DhcpHost]:
    """The ports (static DHCP hosts named ``port-…``) of a network, in document order."""
    hosts: list[DhcpHost] = []
    for host in ET.fromstring(network_xml).iterfind("./ip/dhcp/host"):
        name = host.get("name", "")
        mac, ip = host.get("mac"), host.get("ip")
        if name.startswith(PORT_HOST_PREFIX) and mac and ip:
            hosts.append(DhcpHost(port_id=name[len(PORT_HOST_PREFIX) :], mac=mac, ip=ip))
    return hosts


def has_dhcp(network_xml: str) -> bool:
    return ET.fromstring(network_xml).find("./ip/dhcp") is not None

"""Floating IPs on libvirt: each mapping is NAT rules on a local host (``floating_ip_nat``).

Without ``iptables`` (or on a remote host) the ``floating_ips`` capability is off, and the API
answers 501 before calling these. Changes go through the network half's one-at-a-time lock:
they read the ports, and a port's delete removes the mappings onto it.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable

import libvirt

from cloudplane.drivers.capabilities import Capability
from cloudplane.drivers.errors import DriverError, ResourceNotFound, Unsupported
from cloudplane.drivers.libvirt.floating_ip_nat import FloatingIpNat, nat_backend_id
from cloudplane.drivers.libvirt.parts import LibvirtParts
from cloudplane.drivers.network_contract import FloatingIpInfo, FloatingIpSpec, NetworkDriver


class LibvirtFloatingIps(LibvirtParts, NetworkDriver):
    """The floating-IP calls of ``LibvirtDriver``'s ``NetworkDriver`` half."""

    _floating_nat: FloatingIpNat | None = None
    """Where floating IPs are mapped; None without the ``floating_ips`` capability."""

    async def associate_floating_ip(self, spec: FloatingIpSpec) -> FloatingIpInfo:
        nat = self._floating_nat
        if nat is None:
            raise Unsupported(Capability.FLOATING_IPS)
        return await self._changing(
            f"mapping floating IP {spec.ip} onto port {spec.port_id}",
            self._associate_blocking,
            nat,
            spec,
        )

    async def disassociate_floating_ip(self, floating_ip_id: str) -> None:
        if self._floating_nat is None:
            return  # nothing was ever mapped
        await self._changing(
            f"unmapping floating IP {floating_ip_id}",
            lambda _connection: self._unmap_blocking(lambda m: m.id == floating_ip_id),
        )

    async def list_floating_ips(self) -> list[FloatingIpInfo]:
        if self._floating_nat is None:
            return []
        return await asyncio.to_thread(self._floating_nat.mappings)

    # --- blocking halves -----------------------------------------------------------------------

    def _associate_blocking(
        self, connection: libvirt.virConnect, nat: FloatingIpNat, spec: FloatingIpSpec
    ) -> FloatingIpInfo:
        found = self._find_port(connection, spec.port_id)
        if found is None:
            raise ResourceNotFound("port", spec.port_id)
        _network_id, host = found
        floating, fixed = ipaddress.ip_address(spec.ip), ipaddress.ip_address(spec.fixed_ip)
        if fixed != ipaddress.ip_address(host.ip) or floating.version != fixed.version:
            raise DriverError(
                f"{spec.fixed_ip} is not an IPv{floating.version} address of port {spec.port_id}",
                code="invalid_address",
            )
        mapping = FloatingIpInfo(
            id=spec.id,
            ip=str(floating),
            port_id=spec.port_id,
            fixed_ip=host.ip,
            backend_id=nat_backend_id(str(floating)),
        )
        # Moved, not copied: the floating IP and its address each map once. Written again
        # even when unchanged, so repeating a call also puts back jumps that were lost.
        kept = [m for m in nat.mappings() if m.id != mapping.id and m.ip != mapping.ip]
        nat.replace([*kept, mapping])
        return mapping

    def _unmap_blocking(self, unmapped: Callable[[FloatingIpInfo], bool]) -> None:
        """Remove the mappings ``unmapped`` picks (none without floating IPs here)."""
        if self._floating_nat is None:
            return
        current = self._floating_nat.mappings()
        kept = [mapping for mapping in current if not unmapped(mapping)]
        if len(kept) != len(current):
            self._floating_nat.replace(kept)

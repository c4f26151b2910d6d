"""The networking half of the driver contract: networks, ports, floating IPs, security groups.

Like the compute half, every method is idempotent by the ids it is given and states its
postconditions; the contract test suite checks each of them against every driver.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class InterfaceSpec:
    """A server's network interface: the port that backs it, its MAC and fixed IPs."""

    port_id: str
    network_id: str
    mac: str
    fixed_ips: tuple[str, ...] = ()


class NetworkDriver(abc.ABC):  # noqa: B024 - the network methods are added with networking
    """A backend that builds networks and ports and maps floating IPs onto them."""

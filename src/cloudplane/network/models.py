"""Networking tables.

Addresses are handed out through ``ip_allocations``, whose primary key ``(network_id, ip)`` is
what keeps two ports (or floating IPs) from ever holding the same address, whatever the engine
and however many requests race. A port also keeps a copy of its fixed IPs (they never change
after creation) so that reading a port needs no join.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloudplane.kit.db import Base, SoftDeleteMixin, TimestampMixin, id_column
from cloudplane.network.schemas import DeviceOwner

IP_LENGTH = 45
"""Longest text form of an IPv6 address (with an embedded IPv4 tail)."""


class Network(TimestampMixin, SoftDeleteMixin, Base):
    """An L2 network with one subnet. ``allocation_pools`` is ``[{"start", "end"}, …]``."""

    __tablename__ = "networks"
    __table_args__ = (
        UniqueConstraint("project_id", "name", "deleted_key"),
        Index("ix_networks_listing", "project_id", "deleted_key", "created_at", "id"),
    )

    id: Mapped[str] = id_column()
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(1024), default="")
    cidr: Mapped[str] = mapped_column(String(64))
    ip_version: Mapped[int] = mapped_column(Integer)
    gateway_ip: Mapped[str | None] = mapped_column(String(IP_LENGTH), default=None)
    allocation_pools: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))


class Port(TimestampMixin, SoftDeleteMixin, Base):
    """A network interface. ``device_owner`` says who bound it (see ``DeviceOwner``)."""

    __tablename__ = "ports"
    __table_args__ = (
        UniqueConstraint("network_id", "mac", "deleted_key"),
        Index("ix_ports_listing", "project_id", "deleted_key", "created_at", "id"),
        Index("ix_ports_network", "network_id", "deleted_key"),
        Index("ix_ports_device", "device_id"),
    )

    id: Mapped[str] = id_column()
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"))
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(1024), default="")
    mac: Mapped[str] = mapped_column(String(17))
    fixed_ips: Mapped[list[str]] = mapped_column(JSON, default=list)
    device_id: Mapped[str | None] = mapped_column(String(36), default=None)
    device_owner: Mapped[str | None] = mapped_column(String(32), default=None)
    status: Mapped[str] = mapped_column(String(16))

    @property
    def made_for_its_server(self) -> bool:
        """Made by its server for itself, so deleted with it (not given to it)."""
        return self.device_owner == DeviceOwner.SERVER.value


class FloatingIp(TimestampMixin, SoftDeleteMixin, Base):
    """A public address of an external network, mapped onto at most one port's fixed IP.

    ``(port_id, fixed_ip)`` is unique, so a fixed IP has at most one floating IP; NULLs (not
    associated) never collide. ``task_state`` names the association change in flight.
    """

    __tablename__ = "floating_ips"
    __table_args__ = (
        UniqueConstraint("port_id", "fixed_ip"),
        Index("ix_floating_ips_listing", "project_id", "deleted_key", "created_at", "id"),
    )

    id: Mapped[str] = id_column()
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    ip: Mapped[str] = mapped_column(String(IP_LENGTH))
    port_id: Mapped[str | None] = mapped_column(ForeignKey("ports.id"), default=None)
    fixed_ip: Mapped[str | None] = mapped_column(String(IP_LENGTH), default=None)
    status: Mapped[str] = mapped_column(String(16))
    task_state: Mapped[str | None] = mapped_column(String(32), default=None)
    description: Mapped[str] = mapped_column(String(1024), default="")


class IpAllocation(Base):
    """One address in use on a network, by a port or by a floating IP.

    Rows outlive a deleted port or floating IP until the backend has let go of the address, so
    an address is never handed out twice at the same time on the backend either.
    """

    __tablename__ = "ip_allocations"

    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), primary_key=True)
    ip: Mapped[str] = mapped_column(String(IP_LENGTH), primary_key=True)
    port_id: Mapped[str | None] = mapped_column(ForeignKey("ports.id"), index=True, default=None)
    # No foreign key: a floating IP's row is written after its address is taken (the row
    # needs the address), so the allocation names an id that is about to exist.
    floating_ip_id: Mapped[str | None] = mapped_column(String(36), index=True, default=None)


class SecurityGroup(TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "security_groups"
    __table_args__ = (
        UniqueConstraint("project_id", "name", "deleted_key"),
        Index("ix_security_groups_listing", "project_id", "deleted_key", "created_at", "id"),
    )

    id: Mapped[str] = id_column()
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(1024), default="")


class SecurityGroupRule(TimestampMixin, Base):
    """One allow rule; ``port_min``/``port_max`` only for tcp and udp."""

    __tablename__ = "security_group_rules"

    id: Mapped[str] = id_column()
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("security_groups.id", ondelete="CASCADE"), index=True
    )
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    direction: Mapped[str] = mapped_column(String(8))
    protocol: Mapped[str] = mapped_column(String(8))
    ethertype: Mapped[str] = mapped_column(String(4))
    port_min: Mapped[int | None] = mapped_column(Integer, default=None)
    port_max: Mapped[int | None] = mapped_column(Integer, default=None)
    remote_cidr: Mapped[str | None] = mapped_column(String(64), default=None)
    remote_group_id: Mapped[str | None] = mapped_column(
        ForeignKey("security_groups.id"), default=None, index=True
    )


class PortSecurityGroup(Base):
    """Which security groups apply to which port."""

    __tablename__ = "port_security_groups"

    port_id: Mapped[str] = mapped_column(ForeignKey("ports.id"), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("security_groups.id"), primary_key=True, index=True
    )

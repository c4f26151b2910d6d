"""Compute tables: flavors and servers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloudplane.kit.db import Base, SoftDeleteMixin, TimestampMixin, UtcDateTime, id_column


class Flavor(TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "flavors"
    __table_args__ = (UniqueConstraint("name", "deleted_key"),)

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(64))
    vcpus: Mapped[int] = mapped_column(Integer)
    ram_mb: Mapped[int] = mapped_column(Integer)
    disk_gb: Mapped[int] = mapped_column(Integer)
    is_public: Mapped[bool] = mapped_column(Boolean, default=True)


class Server(TimestampMixin, SoftDeleteMixin, Base):
    """A virtual machine. ``vcpus``/``ram_mb``/``disk_gb`` are copied from the flavor at create."""

    __tablename__ = "servers"
    __table_args__ = (
        UniqueConstraint("project_id", "name", "deleted_key"),
        Index("ix_servers_listing", "project_id", "deleted_key", "created_at", "id"),
        Index("ix_servers_status", "status"),
    )

    id: Mapped[str] = id_column()
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(1024), default="")
    flavor_id: Mapped[str] = mapped_column(ForeignKey("flavors.id"), index=True)
    image_id: Mapped[str | None] = mapped_column(ForeignKey("images.id"), index=True)
    vcpus: Mapped[int] = mapped_column(Integer)
    ram_mb: Mapped[int] = mapped_column(Integer)
    disk_gb: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    task_state: Mapped[str | None] = mapped_column(String(32), default=None)
    power_state: Mapped[str] = mapped_column(String(16), default="nostate")
    host: Mapped[str | None] = mapped_column(String(255), default=None)
    fault_code: Mapped[str | None] = mapped_column(String(64), default=None)
    fault_message: Mapped[str | None] = mapped_column(String(1024), default=None)
    fault_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    user_data: Mapped[str | None] = mapped_column(Text, default=None)

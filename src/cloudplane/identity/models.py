"""Identity tables: users, projects, memberships, API keys and per-project quota limits."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloudplane.kit.db import Base, SoftDeleteMixin, TimestampMixin, UtcDateTime, id_column


class Role(enum.StrEnum):
    """``admin`` is global (a user flag); ``member`` and ``reader`` are per project."""

    ADMIN = "admin"
    MEMBER = "member"
    READER = "reader"


class User(TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("username", "deleted_key"),)

    id: Mapped[str] = id_column()
    username: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(255), default=None)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class Project(TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("name", "deleted_key"),)

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(1024), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class Membership(TimestampMixin, Base):
    __tablename__ = "memberships"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[str] = mapped_column(String(16))


class ApiKey(TimestampMixin, Base):
    """A long-lived credential; only a hash of its secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    secret_sha256: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


QUOTA_RESOURCES = (
    "servers",
    "vcpus",
    "ram_mb",
    "volumes",
    "volume_gb",
    "snapshots",
    "floating_ips",
    "networks",
    "plans",
    "checkpoints",
)

DEFAULT_QUOTAS: dict[str, int] = {
    "servers": 10,
    "vcpus": 20,
    "ram_mb": 51200,
    "volumes": 10,
    "volume_gb": 1000,
    "snapshots": 10,
    "floating_ips": 10,
    "networks": 10,
    "plans": 10,
    "checkpoints": 50,
}


class Quota(TimestampMixin, Base):
    """A project's limits, one column per resource (-1 = unlimited).

    Creating transactions lock this row before counting usage, which serialises creates within a
    project without a counter that can drift.
    """

    __tablename__ = "quotas"

    project_id: Mapped[str] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    servers: Mapped[int] = mapped_column(Integer, default=DEFAULT_QUOTAS["servers"])
    vcpus: Mapped[int] = mapped_column(Integer, default=DEFAULT_QUOTAS["vcpus"])
    ram_mb: Mapped[int] = mapped_column(Integer, default=DEFAULT_QUOTAS["ram_mb"])
    volumes: Mapped[int] = mapped_column(Integer, default=DEFAULT_QUOTAS["volumes"])
    volume_gb: Mapped[int] = mapped_column(Integer, default=DEFAULT_QUOTAS["volume_gb"])
    snapshots: Mapped[int] = mapped_column(Integer, default=DEFAULT_QUOTAS["snapshots"])
    floating_ips: Mapped[int] = mapped_column(Integer, default=DEFAULT_QUOTAS["floating_ips"])
    networks: Mapped[int] = mapped_column(Integer, default=DEFAULT_QUOTAS["networks"])
    plans: Mapped[int] = mapped_column(Integer, default=DEFAULT_QUOTAS["plans"])
    checkpoints: Mapped[int] = mapped_column(Integer, default=DEFAULT_QUOTAS["checkpoints"])

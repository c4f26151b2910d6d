"""Block-storage tables: storage pools, volume types, volumes, snapshots and attachments."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloudplane.kit.db import Base, SoftDeleteMixin, TimestampMixin, id_column


class StoragePool(TimestampMixin, SoftDeleteMixin, Base):
    """Where volumes live: a directory (``dir``) or an NFS mount (``nfs``).

    ``capacity_gb`` is the operator's explicit figure; None means "what the file system says".
    ``export`` is set for an NFS pool cloudplane mounted itself (at ``path``, under the data
    dir); such a pool is unmounted when it is deleted. Allocation is counted from the volumes.
    """

    __tablename__ = "storage_pools"
    __table_args__ = (
        UniqueConstraint("name", "deleted_key"),
        UniqueConstraint("path", "deleted_key"),
    )

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(512))
    export: Mapped[str | None] = mapped_column(String(512), default=None)
    capacity_gb: Mapped[int | None] = mapped_column(Integer, default=None)


class VolumeType(TimestampMixin, SoftDeleteMixin, Base):
    """A named kind of volume, placed in one pool.

    ``is_default`` is True on exactly one live row and NULL on every other: the unique
    constraint over it lets any number of NULLs through but only one True, so the database
    itself keeps the default single, whatever requests race.
    """

    __tablename__ = "volume_types"
    __table_args__ = (
        UniqueConstraint("name", "deleted_key"),
        UniqueConstraint("is_default"),
    )

    id: Mapped[str] = id_column()
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(1024), default="")
    storage_pool_id: Mapped[str] = mapped_column(ForeignKey("storage_pools.id"), index=True)
    is_default: Mapped[bool | None] = mapped_column(Boolean, default=None)


class Volume(TimestampMixin, SoftDeleteMixin, Base):
    """A block device of ``size_gb`` in a pool.

    ``storage_pool_id`` is copied from the type at create so a pool's allocation is one indexed
    sum. ``status_before`` remembers what an ``extending`` volume goes back to.
    ``owner_server_id`` names the server that created it as its boot volume: it goes with that
    server (delete on termination).
    """

    __tablename__ = "volumes"
    __table_args__ = (
        UniqueConstraint("project_id", "name", "deleted_key"),
        Index("ix_volumes_listing", "project_id", "deleted_key", "created_at", "id"),
        Index("ix_volumes_pool", "storage_pool_id", "deleted_key"),
    )

    id: Mapped[str] = id_column()
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(1024), default="")
    size_gb: Mapped[int] = mapped_column(Integer)
    volume_type_id: Mapped[str] = mapped_column(ForeignKey("volume_types.id"), index=True)
    storage_pool_id: Mapped[str] = mapped_column(ForeignKey("storage_pools.id"))
    status: Mapped[str] = mapped_column(String(16))
    status_before: Mapped[str | None] = mapped_column(String(16), default=None)
    bootable: Mapped[bool] = mapped_column(Boolean, default=False)
    image_id: Mapped[str | None] = mapped_column(ForeignKey("images.id"), index=True)
    # No foreign key: snapshots point at volumes, and a cycle of keys buys nothing here.
    snapshot_id: Mapped[str | None] = mapped_column(String(36), index=True, default=None)
    owner_server_id: Mapped[str | None] = mapped_column(
        ForeignKey("servers.id"), index=True, default=None
    )
    error_message: Mapped[str | None] = mapped_column(String(1024), default=None)


class Snapshot(TimestampMixin, SoftDeleteMixin, Base):
    """A point-in-time copy of a volume, of the size the volume had then."""

    __tablename__ = "snapshots"
    __table_args__ = (
        UniqueConstraint("project_id", "name", "deleted_key"),
        Index("ix_snapshots_listing", "project_id", "deleted_key", "created_at", "id"),
        Index("ix_snapshots_volume", "volume_id", "deleted_key"),
    )

    id: Mapped[str] = id_column()
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    volume_id: Mapped[str] = mapped_column(ForeignKey("volumes.id"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(1024), default="")
    size_gb: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    error_message: Mapped[str | None] = mapped_column(String(1024), default=None)


class VolumeAttachment(TimestampMixin, Base):
    """A volume attached (or being attached or detached) to a server as ``device``.

    A row exists from the attach request until the detach finished. ``volume_id`` is unique, so
    a volume is attached to at most one server however requests race; ``(server_id, device)``
    is unique, so a server never gets one device name twice.
    """

    __tablename__ = "volume_attachments"
    __table_args__ = (
        UniqueConstraint("volume_id"),
        UniqueConstraint("server_id", "device"),
    )

    id: Mapped[str] = id_column()
    volume_id: Mapped[str] = mapped_column(ForeignKey("volumes.id"))
    server_id: Mapped[str] = mapped_column(ForeignKey("servers.id"))
    device: Mapped[str] = mapped_column(String(16))
    boot: Mapped[bool] = mapped_column(Boolean, default=False)

"""The images table."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloudplane.kit.db import Base, SoftDeleteMixin, TimestampMixin, id_column


class Image(TimestampMixin, SoftDeleteMixin, Base):
    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("project_id", "name", "deleted_key"),
        Index("ix_images_visibility", "visibility"),
    )

    id: Mapped[str] = id_column()
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    disk_format: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, default=None)
    checksum_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    min_disk_gb: Mapped[int] = mapped_column(Integer, default=0)
    min_ram_mb: Mapped[int] = mapped_column(Integer, default=0)
    visibility: Mapped[str] = mapped_column(String(16), default="private")

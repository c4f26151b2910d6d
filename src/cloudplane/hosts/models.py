"""The hosts table: one row per hypervisor host the driver is configured with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloudplane.kit.db import Base, TimestampMixin, UtcDateTime, id_column


class Host(TimestampMixin, Base):
    """A host as last seen: ``state`` is ``up`` or ``down``; capacity is what it reported.

    ``name`` is the host name servers on it carry in their ``host`` field; allocation is
    counted from those servers, never stored.
    """

    __tablename__ = "hosts"
    __table_args__ = (UniqueConstraint("uri"),)

    id: Mapped[str] = id_column()
    uri: Mapped[str] = mapped_column(String(512))
    name: Mapped[str | None] = mapped_column(String(255), default=None)
    state: Mapped[str] = mapped_column(String(8))
    vcpus: Mapped[int] = mapped_column(Integer, default=0)
    memory_mb: Mapped[int] = mapped_column(Integer, default=0)
    free_memory_mb: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(String(1024), default=None)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)

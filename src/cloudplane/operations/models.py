"""Operations, their events, and the claims that make periodic jobs fire once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import Base, UtcDateTime, id_column


class Operation(Base):
    """One hypervisor-touching change: pending → running → succeeded | failed.

    ``claimed_by``/``lease_expires_at`` say which worker runs it and until when; a lease that
    runs out means the worker died and the operation may be taken again. ``deadline_at`` is when
    the reconciler gives up on it.
    """

    __tablename__ = "operations"
    __table_args__ = (
        Index("ix_operations_project_created", "project_id", "created_at", "id"),
        Index("ix_operations_status", "status", "created_at"),
        Index("ix_operations_resource", "resource_id"),
    )

    id: Mapped[str] = id_column()
    project_id: Mapped[str | None] = mapped_column(String(36))
    user_id: Mapped[str | None] = mapped_column(String(36))
    request_id: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    resource_type: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    #: When the sweeper last sent it again (null: only sent when it was created).
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    deadline_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class OperationEvent(Base):
    __tablename__ = "operation_events"

    id: Mapped[str] = id_column()
    operation_id: Mapped[str] = mapped_column(
        ForeignKey("operations.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    message: Mapped[str] = mapped_column(String(1024))


class PeriodicJob(Base):
    """The next due time of a periodic job; a scheduler claims a firing by moving it forward."""

    __tablename__ = "periodic_jobs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    last_claimed_by: Mapped[str | None] = mapped_column(String(64), default=None)

"""Data-protection tables: plans, triggers, scheduled operations, checkpoints, restores,
verifications and the operation log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import Base, SoftDeleteMixin, TimestampMixin, UtcDateTime, id_column


class ProtectionPlan(TimestampMixin, SoftDeleteMixin, Base):
    """What to protect (``resources``: ``[{id, type, name}]``) with which provider and options.

    Created ``suspended``; only a ``started`` plan's scheduled operations fire.
    """

    __tablename__ = "protection_plans"
    __table_args__ = (
        UniqueConstraint("project_id", "name", "deleted_key"),
        Index("ix_protection_plans_listing", "project_id", "deleted_key", "created_at", "id"),
    )

    id: Mapped[str] = id_column()
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(1024), default="")
    provider_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    resources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ProtectionTrigger(TimestampMixin, SoftDeleteMixin, Base):
    """A time trigger: ``properties`` holds format, pattern, start/end time and window."""

    __tablename__ = "protection_triggers"
    __table_args__ = (
        UniqueConstraint("project_id", "name", "deleted_key"),
        Index("ix_protection_triggers_listing", "project_id", "deleted_key", "created_at", "id"),
    )

    id: Mapped[str] = id_column()
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16), default="time")
    properties: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ScheduledOperation(TimestampMixin, SoftDeleteMixin, Base):
    """A plan protected whenever its trigger fires.

    ``next_run_at`` is the firing due next (None: the trigger has ended, or the plan is not
    started). A scheduler claims a firing by moving it with a compare-and-set on its old value,
    so with several scheduler replicas each firing runs (or is logged ``dropped``) exactly once.
    """

    __tablename__ = "protection_scheduled_operations"
    __table_args__ = (
        UniqueConstraint("project_id", "name", "deleted_key"),
        Index("ix_protection_sched_listing", "project_id", "deleted_key", "created_at", "id"),
        Index("ix_protection_sched_due", "deleted_key", "enabled", "next_run_at"),
    )

    id: Mapped[str] = id_column()
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(String(1024), default="")
    operation_type: Mapped[str] = mapped_column(String(32))
    trigger_id: Mapped[str] = mapped_column(ForeignKey("protection_triggers.id"), index=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("protection_plans.id"), index=True)
    max_backups: Mapped[int | None] = mapped_column(Integer, default=None)
    retention_days: Mapped[int | None] = mapped_column(Integer, default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    next_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    last_run_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)


class Checkpoint(TimestampMixin, SoftDeleteMixin, Base):
    """One protection of a plan: ``protecting → available | error``, ``deleting → deleted``.

    ``resources`` lists ``{type, id, name, status, reason, saved}`` per protected resource, where
    ``saved`` is what the provider needs to restore and verify it (files and checksums, backend
    snapshot ids, a server's flavor, volumes and networks).
    """

    __tablename__ = "protection_checkpoints"
    __table_args__ = (
        Index("ix_protection_checkpoints_listing", "project_id", "deleted_key", "created_at", "id"),
        Index("ix_protection_checkpoints_plan", "plan_id", "status", "created_at"),
    )

    id: Mapped[str] = id_column()
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), default=None)
    plan_id: Mapped[str] = mapped_column(ForeignKey("protection_plans.id"))
    provider_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(16), default="manual")
    scheduled_operation_id: Mapped[str | None] = mapped_column(String(36), default=None)
    resource_graph: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    resources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error_message: Mapped[str | None] = mapped_column(String(1024), default=None)


class Restore(TimestampMixin, Base):
    """Bringing a checkpoint back as new resources: ``in_progress → success | fail``.

    ``resources_status``/``resources_reason`` are keyed ``Type#id`` of the protected resource;
    ``restored`` maps the same keys to the ids of the resources made for them.
    """

    __tablename__ = "protection_restores"
    __table_args__ = (Index("ix_protection_restores_listing", "project_id", "created_at", "id"),)

    id: Mapped[str] = id_column()
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    checkpoint_id: Mapped[str] = mapped_column(ForeignKey("protection_checkpoints.id"), index=True)
    target: Mapped[str] = mapped_column(String(16), default="new")
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16))
    resources_status: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    resources_reason: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    restored: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class Verification(TimestampMixin, Base):
    """A recomputation of a checkpoint's checksums: ``in_progress → success | fail``."""

    __tablename__ = "protection_verifications"
    __table_args__ = (
        Index("ix_protection_verifications_listing", "project_id", "created_at", "id"),
    )

    id: Mapped[str] = id_column()
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"))
    checkpoint_id: Mapped[str] = mapped_column(ForeignKey("protection_checkpoints.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    resources_status: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    resources_reason: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class ProtectionLog(Base):
    """One protect, restore, verify, checkpoint delete or scheduled firing, and how it ended.

    ``status``: ``running``, ``success``, ``fail``, or ``dropped`` (a scheduled firing missed
    beyond its window, recorded instead of run late). ``scheduled_for`` is the firing's due time.
    """

    __tablename__ = "protection_operation_logs"
    __table_args__ = (
        Index("ix_protection_logs_listing", "project_id", "created_at", "id"),
        Index("ix_protection_logs_sched", "scheduled_operation_id", "scheduled_for"),
    )

    id: Mapped[str] = id_column()
    project_id: Mapped[str] = mapped_column(ForeignKey("projects.id"))
    operation_type: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    plan_id: Mapped[str | None] = mapped_column(String(36), default=None)
    checkpoint_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    restore_id: Mapped[str | None] = mapped_column(String(36), default=None)
    verification_id: Mapped[str | None] = mapped_column(String(36), default=None)
    scheduled_operation_id: Mapped[str | None] = mapped_column(String(36), default=None)
    scheduled_for: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)
    error_info: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), default=None)

"""The states and kinds of data-protection resources."""

from __future__ import annotations

import enum


class PlanStatus(enum.StrEnum):
    SUSPENDED = "suspended"
    STARTED = "started"


class CheckpointStatus(enum.StrEnum):
    PROTECTING = "protecting"
    AVAILABLE = "available"
    ERROR = "error"
    DELETING = "deleting"
    DELETED = "deleted"


DELETABLE_CHECKPOINTS = frozenset({CheckpointStatus.AVAILABLE.value, CheckpointStatus.ERROR.value})


class RunStatus(enum.StrEnum):
    """Of a restore or verification, and of each resource in one."""

    IN_PROGRESS = "in_progress"
    SUCCESS = "success"
    FAIL = "fail"


class ResourceStatus(enum.StrEnum):
    """Of one resource in a checkpoint."""

    PROTECTING = "protecting"
    AVAILABLE = "available"
    ERROR = "error"


class OperationType(enum.StrEnum):
    PROTECT = "protect"
    RETENTION_PROTECT = "retention_protect"


class LogType(enum.StrEnum):
    PROTECT = "protect"
    RESTORE = "restore"
    VERIFY = "verify"
    DELETE = "delete"
    SCHEDULED = "scheduled"


class LogStatus(enum.StrEnum):
    RUNNING = "running"
    SUCCESS = "success"
    FAIL = "fail"
    DROPPED = "dropped"


class ResourceType(enum.StrEnum):
    SERVER = "server"
    VOLUME = "volume"
    IMAGE = "image"
    NETWORK = "network"
    PROJECT = "project"


class Action(enum.StrEnum):
    """Operation ``action`` names of protection work (resource types below)."""

    PROTECT = "protect"
    DELETE = "delete"
    RESTORE = "restore"
    VERIFY = "verify"


CHECKPOINT = "checkpoint"
RESTORE = "restore"
VERIFICATION = "verification"

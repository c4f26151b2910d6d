"""The server state machine: statuses, task states, and which action may start from where.

``status`` is cloudplane's view of the server's lifecycle; ``task_state`` names the one operation
in flight (null when none); ``power_state`` is what the hypervisor last reported.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cloudplane.drivers.base import PowerState


class ServerStatus(enum.StrEnum):
    BUILD = "BUILD"
    ACTIVE = "ACTIVE"
    SHUTOFF = "SHUTOFF"
    PAUSED = "PAUSED"
    REBOOT = "REBOOT"
    HARD_REBOOT = "HARD_REBOOT"
    DELETING = "DELETING"
    DELETED = "DELETED"
    ERROR = "ERROR"


class TaskState(enum.StrEnum):
    SPAWNING = "spawning"
    POWERING_ON = "powering_on"
    POWERING_OFF = "powering_off"
    REBOOTING = "rebooting"
    REBOOTING_HARD = "rebooting_hard"
    PAUSING = "pausing"
    UNPAUSING = "unpausing"
    DELETING = "deleting"
    RESTORING_VOLUME = "restoring_volume"
    """A restore in place is rewriting one of the (shut off) server's volumes."""


class ServerAction(enum.StrEnum):
    CREATE = "create"
    START = "start"
    STOP = "stop"
    REBOOT = "reboot"
    REBOOT_HARD = "reboot_hard"
    PAUSE = "pause"
    RESUME = "resume"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class Transition:
    """An action: the statuses it may start from, what the server shows meanwhile, and after.

    ``during`` None keeps the current status while ``task_state`` says what is happening (as
    Nova does); reboots show their own status.
    """

    allowed_from: frozenset[ServerStatus]
    during: ServerStatus | None
    task_state: TaskState
    success: ServerStatus
    power_state: PowerState


_S = ServerStatus

TRANSITIONS: dict[ServerAction, Transition] = {
    ServerAction.START: Transition(
        frozenset({_S.SHUTOFF}), None, TaskState.POWERING_ON, _S.ACTIVE, PowerState.RUNNING
    ),
    ServerAction.STOP: Transition(
        frozenset({_S.ACTIVE, _S.PAUSED, _S.ERROR}),
        None,
        TaskState.POWERING_OFF,
        _S.SHUTOFF,
        PowerState.SHUTDOWN,
    ),
    ServerAction.REBOOT: Transition(
        frozenset({_S.ACTIVE}), _S.REBOOT, TaskState.REBOOTING, _S.ACTIVE, PowerState.RUNNING
    ),
    ServerAction.REBOOT_HARD: Transition(
        frozenset({_S.ACTIVE, _S.SHUTOFF, _S.PAUSED, _S.ERROR}),
        _S.HARD_REBOOT,
        TaskState.REBOOTING_HARD,
        _S.ACTIVE,
        PowerState.RUNNING,
    ),
    ServerAction.PAUSE: Transition(
        frozenset({_S.ACTIVE}), None, TaskState.PAUSING, _S.PAUSED, PowerState.PAUSED
    ),
    ServerAction.RESUME: Transition(
        frozenset({_S.PAUSED}), None, TaskState.UNPAUSING, _S.ACTIVE, PowerState.RUNNING
    ),
}
"""The power actions and their transitions."""

STATUS_FOR_POWER_STATE: dict[PowerState, ServerStatus] = {
    PowerState.RUNNING: ServerStatus.ACTIVE,
    PowerState.PAUSED: ServerStatus.PAUSED,
    PowerState.SHUTDOWN: ServerStatus.SHUTOFF,
    PowerState.CRASHED: ServerStatus.ERROR,
}
"""What a settled server's status becomes when the hypervisor reports a power state."""

"""OpenStack's statuses read as cloudplane's: power states, settledness, faults.

Nova reports ``status`` plus ``OS-EXT-STS:task_state`` and ``OS-EXT-STS:power_state``; a
server is settled when no task runs and its status is not transitional. Cinder volumes and
snapshots settle when their status no longer ends in ``-ing``.
"""

from __future__ import annotations

from typing import Any

from cloudplane.drivers.base import PowerState

SETTLED_SERVER_STATUSES = frozenset({"ACTIVE", "SHUTOFF", "PAUSED", "SUSPENDED", "ERROR"})

_POWER_BY_STATUS = {
    "ACTIVE": PowerState.RUNNING,
    "SHUTOFF": PowerState.SHUTDOWN,
    "PAUSED": PowerState.PAUSED,
    # A suspended guest is saved to disk and not running; resuming it is a start.
    "SUSPENDED": PowerState.SHUTDOWN,
    "ERROR": PowerState.CRASHED,
}
# Nova's power_state numbers (nova/compute/power_state.py).
_POWER_BY_NUMBER = {
    0: PowerState.NOSTATE,
    1: PowerState.RUNNING,
    3: PowerState.PAUSED,
    4: PowerState.SHUTDOWN,
    6: PowerState.CRASHED,
    7: PowerState.SHUTDOWN,
}


def server_settled(server: Any) -> bool:
    return server.task_state is None and server.status in SETTLED_SERVER_STATUSES


def server_gone(server: Any) -> bool:
    return server is None or server.status == "DELETED"


def power_state_of(server: Any) -> PowerState:
    """The power state a settled status implies; mid-task, what Nova's power_state says."""
    by_status = _POWER_BY_STATUS.get(server.status)
    if by_status is not None:
        return by_status
    return _POWER_BY_NUMBER.get(server.power_state or 0, PowerState.NOSTATE)


def fault_of(server: Any) -> str | None:
    """The cloud's fault message of an ERROR server (``None`` when it gave none)."""
    fault = server.fault
    if server.status != "ERROR":
        return None
    if isinstance(fault, dict) and fault.get("message"):
        return str(fault["message"])
    return "the cloud reports the server in ERROR without a fault"


def block_settled(resource: Any) -> bool:
    """A Cinder volume or snapshot no longer creating, extending, attaching, …"""
    return not str(resource.status).endswith("ing") and resource.status != "reserved"

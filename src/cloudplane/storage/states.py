"""The volume and snapshot state machines of API.md.

Volume: ``creating → available``; ``available → attaching → in-use``; ``in-use → detaching →
available``; ``available|in-use → extending → back``; ``available|in-use → restoring → back`` (a
restore in place writing saved data back); ``→ deleting → deleted``; failures → ``error``, from
which delete is still allowed. Every move is a compare-and-set on ``status``.
"""

from __future__ import annotations

import enum


class VolumeStatus(enum.StrEnum):
    CREATING = "creating"
    AVAILABLE = "available"
    ATTACHING = "attaching"
    IN_USE = "in-use"
    DETACHING = "detaching"
    EXTENDING = "extending"
    RESTORING = "restoring"
    DELETING = "deleting"
    DELETED = "deleted"
    ERROR = "error"


class SnapshotStatus(enum.StrEnum):
    CREATING = "creating"
    AVAILABLE = "available"
    DELETING = "deleting"
    DELETED = "deleted"
    ERROR = "error"


class VolumeAction(enum.StrEnum):
    """Operation actions on ``resource_type="volume"``."""

    CREATE = "create"
    ATTACH = "attach"
    DETACH = "detach"
    EXTEND = "extend"
    DELETE = "delete"


class SnapshotAction(enum.StrEnum):
    """Operation actions on ``resource_type="snapshot"``."""

    CREATE = "create"
    DELETE = "delete"


_V = VolumeStatus

EXTENDABLE_FROM = frozenset({_V.AVAILABLE, _V.IN_USE})
DELETABLE_FROM = frozenset({_V.AVAILABLE, _V.ERROR})
SNAPSHOTTABLE_FROM = frozenset({_V.AVAILABLE, _V.IN_USE})
ATTACHABLE_FROM = frozenset({_V.AVAILABLE})
DETACHABLE_FROM = frozenset({_V.IN_USE})

SETTLED = frozenset({_V.AVAILABLE, _V.IN_USE, _V.ERROR})
"""Statuses with no operation in flight."""


def values(statuses: frozenset[VolumeStatus]) -> set[str]:
    return {status.value for status in statuses}

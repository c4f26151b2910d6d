"""The API error code a failed operation's cause carries, for the fault it leaves behind.

A driver that knows why it failed in the API's own terms (``quota_exceeded``, ``conflict``)
says so in ``DriverError.code``. The runner publishes that code here while the handler's
``fail`` runs, so a handler can record it as the resource's ``fault.code`` without every
handler's signature changing.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

from cloudplane.drivers.errors import DriverError

API_FAULT_CODES = frozenset({"quota_exceeded", "conflict"})
"""Driver error codes that are API error codes too, and so make meaningful fault codes."""

_current: ContextVar[str | None] = ContextVar("operation_failure_code", default=None)


def failure_code() -> str | None:
    """The API code of the failure being recorded, if its cause had one."""
    return _current.get()


@contextlib.contextmanager
def failing_because(exc: BaseException) -> Iterator[None]:
    """Publish ``exc``'s API code (when it has one) for the duration of the block."""
    code = exc.code if isinstance(exc, DriverError) and exc.code in API_FAULT_CODES else None
    token = _current.set(code)
    try:
        yield
    finally:
        _current.reset(token)

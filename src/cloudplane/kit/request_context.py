"""Per-request context: the request id, and who is calling, for logs and audit records."""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="")

_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def accept_request_id(candidate: str | None) -> str:
    """The client's id when it is a sane token, else a fresh one."""
    if candidate and _SANE_REQUEST_ID.match(candidate):
        return candidate
    return f"req-{uuid.uuid4()}"


def current_request_id() -> str:
    return _request_id.get() or ""


def set_request_id(request_id: str) -> None:
    _request_id.set(request_id)

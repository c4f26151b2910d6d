"""The ASGI middleware around every request: request ids, metrics and the audit trail.

Written as plain ASGI (not BaseHTTPMiddleware) because it sits on every request's hot path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cloudplane.kit import request_context
from cloudplane.kit.logging import get_logger
from cloudplane.kit.metrics import ApiMetrics

log = get_logger(__name__)

AuditWriter = Callable[[Scope, int], Awaitable[None]]

_MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class RequestMiddleware:
    """Gives each request an id, counts it, and records mutating requests in the audit trail.

    The audit record is written when the response starts, before the client sees the status,
    so a client that reads ``/audit-events`` right after a change finds it there.
    """

    def __init__(self, app: ASGIApp, *, metrics: ApiMetrics, audit: AuditWriter) -> None:
        self.app = app
        self.metrics = metrics
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_context.accept_request_id(_header(scope, b"x-request-id"))
        request_context.set_request_id(request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        method: str = scope["method"]
        status_holder = [500]
        response_started = [False]

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_started[0] = True
                status_holder[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [
                    *message["headers"],
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
                if method in _MUTATING:
                    await self._audit(scope, message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # Answer here rather than in Starlette's outermost handler, so that the 500 carries
            # the request id and the error body, and the trace goes to the log only.
            log.exception("unhandled_error", error_type=type(exc).__name__)
            if not response_started[0]:
                await _send_internal_error(send_with_id, request_id)
        finally:
            route = _route_template(scope)
            elapsed = time.perf_counter() - started
            self.metrics.requests.labels(method, route, str(status_holder[0])).inc()
            self.metrics.latency.labels(method, route).observe(elapsed)
            log.info(
                "request",
                method=method,
                path=scope.get("path"),
                status=status_holder[0],
                duration_ms=round(elapsed * 1000, 2),
            )

    async def _audit(self, scope: Scope, status_code: int) -> None:
        try:
            await self.audit(scope, status_code)
        except Exception as exc:  # the audit store failing must not turn a success into a 500
            log.error("audit_write_failed", error=str(exc))


async def _send_internal_error(send: Send, request_id: str) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "internal_error",
                "message": "internal error",
                "request_id": request_id,
                "details": {},
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            decoded: str = value.decode("latin-1")
            return decoded
    return None


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "unmatched"

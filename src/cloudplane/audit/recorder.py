"""Writes one audit record per mutating request, whatever its outcome.

What was acted on comes from the matched route (``/api/v1/servers/{server_id}/stop`` →
resource ``servers``, action ``stop``, id from the path); an endpoint that creates a resource
names the new id with ``note_resource``.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.types import Scope

from cloudplane.audit.group_writer import AuditGroupWriter
from cloudplane.identity.principal import Principal
from cloudplane.kit import request_context
from cloudplane.kit.clock import utcnow
from cloudplane.kit.db import new_id
from cloudplane.runtime import Runtime

_API_PREFIX = "/api/v1/"
_METHOD_ACTIONS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}


def note_resource(request: Request, resource_id: str) -> None:
    """Tell the audit trail which resource this request created."""
    request.state.audit_resource_id = resource_id


_NAMESPACES = frozenset({"protection"})
"""Path prefixes that group collections: the collection is the second part."""


def describe(scope: Scope) -> tuple[str | None, str | None, str]:
    """``(resource_type, resource_id, action)`` of the request in ``scope``."""
    method: str = scope["method"]
    route: Any = scope.get("route")
    template = getattr(route, "path", None)
    state = scope.get("state", {})
    path_params: dict[str, str] = scope.get("path_params", {})
    if not isinstance(template, str) or not template.startswith(_API_PREFIX):
        return None, None, method.lower()
    parts = [part for part in template[len(_API_PREFIX) :].split("/") if part]
    if len(parts) > 1 and parts[0] in _NAMESPACES:  # /protection/plans/{id} → protection.plans
        parts = [f"{parts[0]}.{parts[1]}", *parts[2:]]
    resource_type = parts[0] if parts else None
    resource_id = state.get("audit_resource_id")
    if resource_id is None and len(parts) > 1 and parts[1].startswith("{"):
        resource_id = path_params.get(parts[1].strip("{}"))
    verbs = [part for part in parts[1:] if not part.startswith("{")]
    action = verbs[-1] if method == "POST" and verbs else _METHOD_ACTIONS.get(method, method)
    if verbs and method != "POST":
        action = f"{verbs[-1]}.{action}"
    return resource_type, resource_id, action


class AuditRecorder:
    """Stores the audit record of each mutating request; the middleware's ``audit`` writer.

    Records of concurrent requests are committed together (see ``AuditGroupWriter``).
    """

    def __init__(self) -> None:
        self._writer = AuditGroupWriter()

    async def __call__(self, scope: Scope, status_code: int) -> None:
        """Store the record of the request in ``scope``; returns once it is committed."""
        runtime: Runtime = scope["app"].state.runtime
        await self._writer.store(runtime.sessions, audit_row(scope, status_code))


def audit_row(scope: Scope, status_code: int) -> dict[str, Any]:
    """The ``audit_events`` column values for the request in ``scope``."""
    state = scope.get("state", {})
    principal: Principal | None = state.get("principal")
    resource_type, resource_id, action = describe(scope)
    return {
        "id": new_id(),
        "at": utcnow(),
        "user_id": principal.user_id if principal else None,
        "project_id": principal.project_id if principal else None,
        "request_id": request_context.current_request_id(),
        "method": scope["method"],
        "path": str(scope.get("path", ""))[:512],
        "resource_type": resource_type,
        "resource_id": resource_id,
        "action": action[:64],
        "outcome": "success" if status_code < 400 else "failure",
        "status_code": status_code,
    }

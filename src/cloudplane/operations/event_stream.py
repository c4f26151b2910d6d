"""``GET /api/v1/events/stream``: Server-Sent Events of state changes in the caller's project.

Changes are read from the database (servers and operations whose ``updated_at``/``finished_at``
moved past the stream's cursor), so every API replica sees every change, whichever process made
it. Each event names the resource and its new state; ``id`` is a cursor a client can send back
as ``Last-Event-ID`` to resume without gaps.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select

from cloudplane.compute.models import Server
from cloudplane.identity.dependencies import CurrentPrincipal
from cloudplane.identity.principal import Principal
from cloudplane.kit.clock import rfc3339, utcnow
from cloudplane.kit.db import unit_of_work
from cloudplane.kit.deps import RuntimeDep
from cloudplane.kit.errors import BadRequest, Unauthorized, error_responses
from cloudplane.kit.routing import PrefixedRouter
from cloudplane.operations.models import Operation
from cloudplane.runtime import Runtime

router = PrefixedRouter(prefix="/api/v1/events", tags=["operations"])

_BATCH = 200
_KEEPALIVE_S = 15.0


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "a stream of events"},
        **error_responses(Unauthorized, BadRequest),
    },
)
async def stream_events(
    request: Request,
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    poll_s: Annotated[float, Query(ge=0.1, le=10, description="How often to look.")] = 1.0,
    last_event_id: Annotated[str | None, Header(description="Resume after this cursor.")] = None,
) -> StreamingResponse:
    """Server-Sent Events of server and operation state changes in the caller's project."""
    cursor = _parse_cursor(last_event_id) if last_event_id else utcnow()

    async def events() -> AsyncIterator[str]:
        nonlocal cursor
        idle_s = 0.0
        yield ": connected\n\n"
        while not await request.is_disconnected():
            batch, cursor = await _changes_since(runtime, principal, cursor)
            for event in batch:
                yield event
            idle_s = 0.0 if batch else idle_s + poll_s
            if idle_s >= _KEEPALIVE_S:
                idle_s = 0.0
                yield ": keep-alive\n\n"
            await asyncio.sleep(poll_s)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _parse_cursor(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest("Last-Event-ID is not a cursor from this stream") from exc


async def _changes_since(
    runtime: Runtime, principal: Principal, cursor: datetime
) -> tuple[list[str], datetime]:
    async with unit_of_work(runtime.sessions) as session:
        servers = (
            await session.scalars(
                select(Server)
                .where(Server.project_id == principal.project_id, Server.updated_at > cursor)
                .order_by(Server.updated_at)
                .limit(_BATCH)
            )
        ).all()
        operations = (
            await session.scalars(
                select(Operation)
                .where(
                    Operation.project_id == principal.project_id,
                    Operation.finished_at > cursor,
                )
                .order_by(Operation.finished_at)
                .limit(_BATCH)
            )
        ).all()
    changes: list[tuple[datetime, str, dict[str, Any]]] = [
        (
            server.updated_at,
            "server",
            {
                "id": server.id,
                "name": server.name,
                "status": "DELETED" if server.deleted_at else server.status,
                "task_state": server.task_state,
                "power_state": server.power_state,
            },
        )
        for server in servers
    ]
    changes += [
        (
            operation.finished_at or cursor,
            "operation",
            {
                "id": operation.id,
                "action": operation.action,
                "resource_id": operation.resource_id,
                "status": operation.status,
                "error": operation.error,
            },
        )
        for operation in operations
    ]
    # A full batch may have more rows after it: stop at the earliest such cut so that the
    # cursor never passes a change of the other kind that was not read yet.
    cuts = [
        rows[-1]
        for rows in ([s.updated_at for s in servers], [o.finished_at or cursor for o in operations])
        if len(rows) == _BATCH
    ]
    if cuts:
        changes = [change for change in changes if change[0] <= min(cuts)]
    changes.sort(key=lambda change: change[0])
    rendered = [
        f"id: {rfc3339(at)}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"
        for at, kind, data in changes
    ]
    newest = max((at for at, _, _ in changes), default=cursor)
    return rendered, newest

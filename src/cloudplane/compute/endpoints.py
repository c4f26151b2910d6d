"""``/api/v1/servers``: list, show, create, rename, power actions, delete, console."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.audit.recorder import note_resource
from cloudplane.compute import repository, service
from cloudplane.compute.models import Server
from cloudplane.compute.schemas import (
    ConsoleOut,
    RebootRequest,
    ServerAccepted,
    ServerCreate,
    ServerOut,
    ServerResetState,
    ServerUpdate,
)
from cloudplane.compute.server_extras import NO_EXTRAS, load_server_extras
from cloudplane.compute.states import ServerAction, ServerStatus
from cloudplane.compute.views import ServerFields, server_accepted, server_body, server_out
from cloudplane.drivers.base import Capability, DriverError
from cloudplane.identity.dependencies import AdminPrincipal, CurrentPrincipal, WriterPrincipal
from cloudplane.kit.deps import RuntimeDep, SessionDep
from cloudplane.kit.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    NotSupported,
    QuotaExceeded,
    Unauthorized,
    error_responses,
)
from cloudplane.kit.idempotency import IdempotencyDep
from cloudplane.kit.json_body import JsonBody
from cloudplane.kit.pagination import (
    ListParamsDep,
    Page,
    paginate_rows,
    starts_with,
    timestamped_name_sorts,
    where_equal,
)
from cloudplane.kit.routing import PrefixedRouter

router = PrefixedRouter(prefix="/api/v1/servers", tags=["compute"])

_READ_ERRORS = error_responses(Unauthorized, NotFound)
_ACTION_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Conflict, NotSupported)


async def _server_out(session: AsyncSession, server: ServerFields) -> ServerOut:
    extras = await load_server_extras(session, [server.id])
    return server_out(server, extras.get(server.id, NO_EXTRAS))


async def _server_accepted(
    session: AsyncSession, server: Server, operation_id: str
) -> ServerAccepted:
    extras = await load_server_extras(session, [server.id])
    return server_accepted(server, operation_id, extras.get(server.id, NO_EXTRAS))


def _accepted(response: Response, accepted: ServerAccepted) -> ServerAccepted:
    response.headers["Location"] = f"/api/v1/operations/{accepted.operation_id}"
    return accepted


@router.get("", response_model=Page[ServerOut], responses=error_responses(Unauthorized, BadRequest))
async def list_servers(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    name: Annotated[str | None, Query(max_length=255)] = None,
    name_prefix: Annotated[str | None, Query(max_length=255)] = None,
    status_: Annotated[ServerStatus | None, Query(alias="status")] = None,
    flavor_id: str | None = None,
    image_id: str | None = None,
    host: str | None = None,
    project_id: Annotated[str | None, Query(description="Admins only.")] = None,
    all_projects: Annotated[bool, Query(description="Admins only.")] = False,
    deleted: Annotated[bool, Query(description="Admins only: include deleted servers.")] = False,
) -> JsonBody:
    """Servers of the caller's project (admins: any project, or all), newest first."""
    scope: str | None = principal.project_id
    if principal.is_admin and all_projects:
        scope = None
    elif principal.is_admin and project_id is not None:
        scope = project_id
    stmt = repository.server_views_query(
        project_id=scope, include_deleted=deleted and principal.is_admin
    )
    servers = repository.SERVERS
    stmt = where_equal(
        stmt,
        (servers.name, name),
        (servers.status, status_.value if status_ else None),
        (servers.flavor_id, flavor_id),
        (servers.image_id, image_id),
        (servers.host, host),
    )
    if name_prefix:
        stmt = stmt.where(starts_with(servers.name, name_prefix))
    rows, next_marker = await paginate_rows(
        session,
        stmt,
        id_column=servers.id,
        sort_columns=timestamped_name_sorts(servers, servers.name),
        params=params,
    )
    extras = await load_server_extras(session, [row.id for row in rows])
    items = [server_body(cast(ServerFields, row), extras.get(row.id, NO_EXTRAS)) for row in rows]
    return JsonBody({"items": items, "next_marker": next_marker})


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict, QuotaExceeded),
)
async def create_server(
    request: Request,
    response: Response,
    body: ServerCreate,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
    idempotency: IdempotencyDep,
) -> ServerAccepted:
    """Create a server; it is built asynchronously (BUILD → ACTIVE)."""
    server, operation = await service.create_server(session, runtime, principal, body)
    note_resource(request, server.id)
    accepted = _accepted(response, await _server_accepted(session, server, operation.id))
    await idempotency.remember(
        status.HTTP_202_ACCEPTED, accepted, location=response.headers["Location"]
    )
    return accepted


@router.get("/{server_id}", response_model=ServerOut, responses=_READ_ERRORS)
async def show_server(
    server_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    deleted: Annotated[bool, Query(description="Admins only: allow a deleted server.")] = False,
) -> JsonBody:
    """One server."""
    server, extras = await service.get_server_view(
        session, principal, server_id, include_deleted=deleted
    )
    return JsonBody(server_body(server, extras))


@router.patch(
    "/{server_id}", responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict)
)
async def update_server(
    server_id: str, body: ServerUpdate, session: SessionDep, principal: WriterPrincipal
) -> ServerOut:
    """Rename a server or change its description or metadata."""
    server = await service.update_server(session, principal, server_id, body)
    return await _server_out(session, server)


@router.delete("/{server_id}", status_code=status.HTTP_202_ACCEPTED, responses=_ACTION_ERRORS)
async def delete_server(
    server_id: str,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
) -> ServerAccepted:
    """Delete a server from any state; it goes DELETING and then disappears."""
    server, operation = await service.request_delete(session, runtime, principal, server_id)
    return _accepted(response, await _server_accepted(session, server, operation.id))


_REQUIRED_CAPABILITY = {
    ServerAction.PAUSE: Capability.PAUSE,
    ServerAction.RESUME: Capability.PAUSE,
    ServerAction.REBOOT: Capability.SOFT_REBOOT,
}


class ServerActions:
    """Starts a power action on a server for the endpoints below (one dependency for all)."""

    def __init__(
        self,
        response: Response,
        session: SessionDep,
        runtime: RuntimeDep,
        principal: WriterPrincipal,
    ) -> None:
        self.response = response
        self.session = session
        self.runtime = runtime
        self.principal = principal

    async def __call__(self, action: ServerAction, server_id: str) -> ServerAccepted:
        capability = _REQUIRED_CAPABILITY.get(action)
        if capability is not None and capability not in self.runtime.driver.capabilities:
            raise NotSupported(f"the driver cannot {action.value} servers")
        server, operation = await service.request_action(
            self.session, self.runtime, self.principal, server_id, action
        )
        accepted = await _server_accepted(self.session, server, operation.id)
        return _accepted(self.response, accepted)


ActionsDep = Annotated[ServerActions, Depends()]


@router.post("/{server_id}/start", status_code=202, responses=_ACTION_ERRORS)
async def start_server(server_id: str, act: ActionsDep) -> ServerAccepted:
    """Power on a SHUTOFF server."""
    return await act(ServerAction.START, server_id)


@router.post("/{server_id}/stop", status_code=202, responses=_ACTION_ERRORS)
async def stop_server(server_id: str, act: ActionsDep) -> ServerAccepted:
    """Shut a server down (graceful, then forced after a timeout)."""
    return await act(ServerAction.STOP, server_id)


@router.post("/{server_id}/reboot", status_code=202, responses=_ACTION_ERRORS)
async def reboot_server(
    server_id: str, act: ActionsDep, body: RebootRequest | None = None
) -> ServerAccepted:
    """Reboot a server: `soft` (ACTIVE only, the default) or `hard`."""
    hard = body is not None and body.type == "hard"
    return await act(ServerAction.REBOOT_HARD if hard else ServerAction.REBOOT, server_id)


@router.post("/{server_id}/pause", status_code=202, responses=_ACTION_ERRORS)
async def pause_server(server_id: str, act: ActionsDep) -> ServerAccepted:
    """Freeze an ACTIVE server in memory."""
    return await act(ServerAction.PAUSE, server_id)


@router.post("/{server_id}/resume", status_code=202, responses=_ACTION_ERRORS)
async def resume_server(server_id: str, act: ActionsDep) -> ServerAccepted:
    """Unfreeze a PAUSED server."""
    return await act(ServerAction.RESUME, server_id)


@router.post(
    "/{server_id}/reset-state",
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def reset_server_state(
    server_id: str, body: ServerResetState, session: SessionDep, principal: AdminPrincipal
) -> ServerOut:
    """Admins: record a status and clear the task in flight, without asking the hypervisor,
    for a server left held or stuck by a failure (e.g. a restore in place that failed while
    writing its disk). The next reconcile reads the power state again."""
    server = await service.reset_state(session, principal, server_id, ServerStatus(body.status))
    return await _server_out(session, server)


@router.get(
    "/{server_id}/console",
    responses=error_responses(Unauthorized, NotFound, Conflict, NotSupported),
)
async def get_console(
    server_id: str, session: SessionDep, runtime: RuntimeDep, principal: CurrentPrincipal
) -> ConsoleOut:
    """How to reach the server's console, where the driver has one."""
    server = await service.get_server(session, principal, server_id)
    if Capability.CONSOLE not in runtime.driver.capabilities:
        return ConsoleOut(type="none")
    try:
        console = await runtime.driver.get_console(server.id)
    except DriverError as exc:
        raise Conflict(
            f"the console of server {server.id} is not available: {exc.message}",
            status=server.status,
        ) from exc
    return ConsoleOut(type=console.type, url=console.url)

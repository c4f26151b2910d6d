"""Server rows as API bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from cloudplane.compute.schemas import Fault, ServerAccepted, ServerOut
from cloudplane.compute.server_extras import NO_EXTRAS, ServerExtras
from cloudplane.compute.states import ServerStatus


class ServerFields(Protocol):
    """What a server body is built from: a ``Server`` row object, or a row of
    ``repository.SERVER_VIEW_COLUMNS``."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def project_id(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def flavor_id(self) -> str: ...
    @property
    def image_id(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def task_state(self) -> str | None: ...
    @property
    def power_state(self) -> str: ...
    @property
    def metadata_(self) -> dict[str, Any]: ...
    @property
    def fault_code(self) -> str | None: ...
    @property
    def fault_message(self) -> str | None: ...
    @property
    def fault_at(self) -> datetime | None: ...
    @property
    def host(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def deleted_at(self) -> datetime | None: ...


def server_out(server: ServerFields, extras: ServerExtras = NO_EXTRAS) -> ServerOut:
    fault = None
    if server.fault_code and server.fault_message and server.fault_at:
        fault = Fault(code=server.fault_code, message=server.fault_message, at=server.fault_at)
    status = ServerStatus.DELETED if server.deleted_at is not None else server.status
    return ServerOut(
        id=server.id,
        name=server.name,
        description=server.description,
        project_id=server.project_id,
        user_id=server.user_id,
        flavor_id=server.flavor_id,
        image_id=server.image_id,
        status=ServerStatus(status),
        task_state=server.task_state,
        power_state=server.power_state,
        addresses=extras.addresses,
        floating_ips=extras.floating_ips,
        volumes=extras.volumes,
        metadata=dict(server.metadata_ or {}),
        fault=fault,
        host=server.host,
        created_at=server.created_at,
        updated_at=server.updated_at,
        deleted_at=server.deleted_at,
    )


def server_accepted(
    server: ServerFields, operation_id: str, extras: ServerExtras = NO_EXTRAS
) -> ServerAccepted:
    return ServerAccepted(**server_out(server, extras).model_dump(), operation_id=operation_id)

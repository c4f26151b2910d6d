"""Server rows as API bodies."""

from __future__ import annotations

from cloudplane.compute.models import Server
from cloudplane.compute.schemas import Fault, ServerAccepted, ServerOut
from cloudplane.compute.server_extras import NO_EXTRAS, ServerExtras
from cloudplane.compute.states import ServerStatus


def server_out(server: Server, extras: ServerExtras = NO_EXTRAS) -> ServerOut:
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
    server: Server, operation_id: str, extras: ServerExtras = NO_EXTRAS
) -> ServerAccepted:
    return ServerAccepted(**server_out(server, extras).model_dump(), operation_id=operation_id)

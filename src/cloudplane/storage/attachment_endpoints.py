"""``/api/v1/servers/{id}/volumes``: attach a volume to a server and detach it again."""

from __future__ import annotations

from fastapi import Response, status

from cloudplane.compute.service import get_server
from cloudplane.identity.dependencies import WriterPrincipal
from cloudplane.kit.deps import RuntimeDep, SessionDep
from cloudplane.kit.errors import (
    Conflict,
    Forbidden,
    NotFound,
    NotSupported,
    Unauthorized,
    error_responses,
)
from cloudplane.kit.routing import PrefixedRouter
from cloudplane.storage import repository, service
from cloudplane.storage.schemas import AttachmentAccepted, AttachRequest
from cloudplane.storage.server_volumes import attach_volume_request, detach_volume_request
from cloudplane.storage.views import volume_view

router = PrefixedRouter(prefix="/api/v1/servers", tags=["storage"])

_ERRORS = error_responses(Unauthorized, Forbidden, NotFound, Conflict, NotSupported)


@router.post("/{server_id}/volumes", status_code=status.HTTP_202_ACCEPTED, responses=_ERRORS)
async def attach_volume(
    server_id: str,
    body: AttachRequest,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
) -> AttachmentAccepted:
    """Attach an `available` volume to a server (attaching → in-use); the device is reported."""
    server = await get_server(session, principal, server_id)
    operation = await attach_volume_request(
        session, runtime, principal, server, body.volume_id, body.device
    )
    volume = await service.get_volume(session, principal, body.volume_id)
    await session.refresh(volume)
    response.headers["Location"] = f"/api/v1/operations/{operation.id}"
    return AttachmentAccepted(
        volume=await volume_view(session, volume),
        server_id=server.id,
        device=str(operation.params["device"]),
        operation_id=operation.id,
    )


@router.delete(
    "/{server_id}/volumes/{volume_id}", status_code=status.HTTP_202_ACCEPTED, responses=_ERRORS
)
async def detach_volume(
    server_id: str,
    volume_id: str,
    response: Response,
    session: SessionDep,
    runtime: RuntimeDep,
    principal: WriterPrincipal,
) -> AttachmentAccepted:
    """Detach a data volume from a server (detaching → available); never the boot volume."""
    server = await get_server(session, principal, server_id)
    attachment = await repository.get_attachment(session, volume_id)
    operation = await detach_volume_request(session, runtime, principal, server, volume_id)
    volume = await service.get_volume(session, principal, volume_id)
    await session.refresh(volume)
    response.headers["Location"] = f"/api/v1/operations/{operation.id}"
    return AttachmentAccepted(
        volume=await volume_view(session, volume),
        server_id=server.id,
        device=attachment.device if attachment is not None else "",
        operation_id=operation.id,
    )

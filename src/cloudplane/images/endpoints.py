"""``/api/v1/images``: list, show, create, update, delete, and the image file up and down."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import Query, Request, Response, status
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect

from cloudplane.audit.recorder import note_resource
from cloudplane.identity.dependencies import CurrentPrincipal, WriterPrincipal
from cloudplane.images import service
from cloudplane.images.formats import DiskFormat
from cloudplane.images.models import Image
from cloudplane.images.schemas import ImageCreate, ImageOut, ImageStatus, ImageUpdate, Visibility
from cloudplane.images.service import ImageFileTooLarge
from cloudplane.kit.deps import RuntimeDep, SessionDep
from cloudplane.kit.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    Unavailable,
    error_responses,
)
from cloudplane.kit.idempotency import IdempotencyDep
from cloudplane.kit.pagination import (
    ListParamsDep,
    Page,
    paginate,
    starts_with,
    timestamped_name_sorts,
    where_equal,
)
from cloudplane.kit.routing import PrefixedRouter

router = PrefixedRouter(prefix="/api/v1/images", tags=["images"])

OCTET_STREAM = "application/octet-stream"

_BINARY_SCHEMA = {"type": "string", "format": "binary"}
_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {"required": True, "content": {OCTET_STREAM: {"schema": _BINARY_SCHEMA}}}
}
_DOWNLOAD_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file's bytes, with its sha256 in `ETag` and `Repr-Digest`.",
        "content": {OCTET_STREAM: {"schema": _BINARY_SCHEMA}},
    }
}


class UnsupportedMediaType(BadRequest):
    """415: an upload that is not ``application/octet-stream`` (API.md's code: ``bad_request``)."""

    status_code = 415


@router.get("", responses=error_responses(Unauthorized, BadRequest))
async def list_images(
    session: SessionDep,
    principal: CurrentPrincipal,
    params: ListParamsDep,
    name: Annotated[str | None, Query(max_length=255)] = None,
    name_prefix: Annotated[str | None, Query(max_length=255)] = None,
    status_: Annotated[ImageStatus | None, Query(alias="status")] = None,
    disk_format: DiskFormat | None = None,
    visibility: Visibility | None = None,
    project_id: Annotated[str | None, Query(description="Admins only: that project's.")] = None,
    all_projects: Annotated[bool, Query(description="Admins only.")] = False,
    deleted: Annotated[bool, Query(description="Admins only: include deleted images.")] = False,
) -> Page[ImageOut]:
    """Images of the caller's project and every public image (admins: any project), newest first."""
    stmt = service.listing_query(
        principal, project_id=project_id, all_projects=all_projects, include_deleted=deleted
    )
    stmt = where_equal(
        stmt,
        (Image.name, name),
        (Image.status, status_),
        (Image.disk_format, disk_format),
        (Image.visibility, visibility),
    )
    if name_prefix:
        stmt = stmt.where(starts_with(Image.name, name_prefix))
    rows, next_marker = await paginate(
        session,
        stmt,
        id_column=Image.id,
        sort_columns=timestamped_name_sorts(Image, Image.name),
        params=params,
    )
    return Page(items=[ImageOut.model_validate(row) for row in rows], next_marker=next_marker)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(Unauthorized, Forbidden, Conflict),
)
async def create_image(
    request: Request,
    response: Response,
    body: ImageCreate,
    session: SessionDep,
    principal: WriterPrincipal,
    idempotency: IdempotencyDep,
) -> ImageOut:
    """Register a queued image; upload its file next with `PUT /images/{id}/file`."""
    image = await service.create_image(session, principal, body)
    note_resource(request, image.id)
    created = ImageOut.model_validate(image)
    response.headers["Location"] = f"{router.prefix}/{image.id}"
    await idempotency.remember(
        status.HTTP_201_CREATED, created, location=response.headers["Location"]
    )
    return created


@router.get("/{image_id}", responses=error_responses(Unauthorized, NotFound))
async def show_image(
    image_id: str,
    session: SessionDep,
    principal: CurrentPrincipal,
    deleted: Annotated[bool, Query(description="Admins only: allow a deleted image.")] = False,
) -> ImageOut:
    """One image."""
    image = await service.get_image(session, principal, image_id, include_deleted=deleted)
    return ImageOut.model_validate(image)


@router.patch("/{image_id}", responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict))
async def update_image(
    image_id: str, body: ImageUpdate, session: SessionDep, principal: WriterPrincipal
) -> ImageOut:
    """Rename an image or change its minimums or visibility (making it public: admins only)."""
    image = await service.update_image(session, principal, image_id, body)
    return ImageOut.model_validate(image)


@router.delete(
    "/{image_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(Unauthorized, Forbidden, NotFound, Conflict),
)
async def delete_image(
    image_id: str, session: SessionDep, runtime: RuntimeDep, principal: WriterPrincipal
) -> None:
    """Delete an image that no live server uses, and its file."""
    await service.delete_image(session, runtime, principal, image_id)


@router.put(
    "/{image_id}/file",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    openapi_extra=_UPLOAD_BODY,
    responses=error_responses(
        BadRequest,
        UnsupportedMediaType,
        ImageFileTooLarge,
        Unauthorized,
        Forbidden,
        NotFound,
        Conflict,
    ),
)
async def upload_image_file(
    image_id: str, request: Request, runtime: RuntimeDep, principal: WriterPrincipal
) -> Response:
    """Upload a queued image's file as a byte stream, checked against its disk_format."""
    _require_octet_stream(request)
    try:
        await service.upload_image_file(
            runtime,
            principal,
            image_id,
            request.stream(),
            declared_length=_content_length(request),
        )
    except ClientDisconnect as exc:
        raise BadRequest("the upload ended before the whole file arrived") from exc
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{image_id}/file",
    response_class=StreamingResponse,
    responses={
        **_DOWNLOAD_RESPONSE,
        **error_responses(Unauthorized, NotFound, Conflict, Unavailable),
    },
)
async def download_image_file(
    image_id: str, session: SessionDep, runtime: RuntimeDep, principal: CurrentPrincipal
) -> StreamingResponse:
    """Download an active image's file as a byte stream."""
    image, chunks = await service.open_image_file(session, runtime, principal, image_id)
    headers = {"Content-Length": str(image.size_bytes or 0)}
    if image.checksum_sha256:
        digest = base64.b64encode(bytes.fromhex(image.checksum_sha256)).decode("ascii")
        headers["ETag"] = f'"{image.checksum_sha256}"'
        headers["Repr-Digest"] = f"sha-256=:{digest}:"
    return StreamingResponse(chunks, media_type=OCTET_STREAM, headers=headers)


def _require_octet_stream(request: Request) -> None:
    """A missing Content-Type counts as octet-stream, as HTTP allows (curl -T sends none)."""
    content_type = request.headers.get("content-type")
    if content_type is None:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != OCTET_STREAM:
        raise UnsupportedMediaType(
            f"an image file is uploaded as {OCTET_STREAM}, not {media_type or 'an empty type'}",
            content_type=content_type,
        )


def _content_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    if not raw.isdigit():
        raise BadRequest(f"Content-Length {raw!r} is not a byte count")
    return int(raw)

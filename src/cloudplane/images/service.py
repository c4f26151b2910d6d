"""Image rules: who sees and changes which image, uploads, downloads, and deletion.

Visibility: a ``public`` image is seen by every project, a ``private`` one by its own project;
admins see all. Another project's private image is 404, never 403. Changing an image takes its
own project (or an admin); a public image of another project is visible but read-only (403).

Uploads move the image ``queued → saving → active``. ``saving`` is claimed by a compare-and-set
in its own committed transaction, so of two concurrent uploads one streams and the other gets
409, and no database transaction stays open while bytes arrive. Every failed upload (format
mismatch, too large, interrupted, disk error) removes what was written and puts the image back to
``queued``: nothing was stored, so the remedy is to upload again.

An image may be deleted in any state, ``saving`` included: the upload then ends with 404 and
removes its file. That is also how an image left ``saving`` by a process that died mid-upload
is cleared.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from functools import partial

from sqlalchemy import Select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from cloudplane.identity.principal import Principal
from cloudplane.images import repository
from cloudplane.images.formats import DiskFormat, FormatMismatchError, check_format
from cloudplane.images.models import Image
from cloudplane.images.repository import RowLock
from cloudplane.images.schemas import ImageCreate, ImageStatus, ImageUpdate, Visibility
from cloudplane.images.storage import ImageStore, ImageTooLargeError, StoredFile
from cloudplane.kit.db import after_commit, new_id, unit_of_work
from cloudplane.kit.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    Unavailable,
    ValidationFailed,
)
from cloudplane.kit.logging import get_logger
from cloudplane.runtime import Runtime

log = get_logger(__name__)

RESOURCE = "image"


class ImageFileTooLarge(BadRequest):
    """413: the upload is over ``max_upload_bytes`` (API.md has no code of its own for it)."""

    status_code = 413


def image_store(runtime: Runtime) -> ImageStore:
    return ImageStore(runtime.settings.images_dir)


def can_see(principal: Principal, image: Image) -> bool:
    return (
        principal.is_admin
        or image.project_id == principal.project_id
        or image.visibility == Visibility.PUBLIC.value
    )


async def get_image(
    session: AsyncSession,
    principal: Principal,
    image_id: str,
    *,
    include_deleted: bool = False,
    lock: RowLock = RowLock.NONE,
) -> Image:
    """An image the principal may see; 404 otherwise. ``include_deleted`` counts for admins only."""
    image = await repository.get_image(
        session, image_id, include_deleted=include_deleted and principal.is_admin, lock=lock
    )
    if image is None or not can_see(principal, image):
        raise NotFound(RESOURCE, image_id)
    return image


def listing_query(
    principal: Principal,
    *,
    project_id: str | None,
    all_projects: bool,
    include_deleted: bool,
) -> Select[Image]:
    """The images a list shows: the caller's project's plus every public one.

    Admins may widen it to every project (``all_projects``) or narrow it to the images owned by
    one project (``project_id``), and may include deleted images. For others those are ignored.
    """
    if principal.is_admin and all_projects:
        return repository.images_query(
            owner_project_id=None, public_too=False, include_deleted=include_deleted
        )
    if principal.is_admin and project_id is not None:
        return repository.images_query(
            owner_project_id=project_id, public_too=False, include_deleted=include_deleted
        )
    return repository.images_query(
        owner_project_id=principal.project_id,
        public_too=True,
        include_deleted=include_deleted and principal.is_admin,
    )


async def get_bootable_image(session: AsyncSession, principal: Principal, image_id: str) -> Image:
    """The active image a new server of ``principal`` may boot from.

    404 when it is missing, deleted or not visible; 409 with ``details.status`` when it is not
    active. The row stays share-locked until the caller's transaction ends, so a concurrent
    delete waits and then sees the server that uses it.
    """
    image = await get_image(session, principal, image_id, lock=RowLock.SHARE)
    if image.status != ImageStatus.ACTIVE.value:
        raise Conflict(
            f"image {image_id} is {image.status}; only an active image can be booted",
            status=image.status,
        )
    return image


async def create_image(session: AsyncSession, principal: Principal, body: ImageCreate) -> Image:
    """Register a queued image in the principal's project; a taken name is 409."""
    _check_visibility_allowed(principal, body.visibility)
    image = Image(
        id=new_id(),
        project_id=principal.project_id,
        name=body.name,
        status=ImageStatus.QUEUED.value,
        disk_format=body.disk_format.value,
        min_disk_gb=body.min_disk_gb,
        min_ram_mb=body.min_ram_mb,
        visibility=body.visibility.value,
    )
    session.add(image)
    await _flush_or_conflict(session, image.name)
    return image


async def update_image(
    session: AsyncSession, principal: Principal, image_id: str, body: ImageUpdate
) -> Image:
    """Rename an image or change its minimums or visibility (public: admins only)."""
    image = await get_image(session, principal, image_id)
    _check_may_change(principal, image)
    if body.visibility is not None and body.visibility.value != image.visibility:
        _check_visibility_allowed(principal, body.visibility)
        image.visibility = body.visibility.value
    if body.name is not None:
        image.name = body.name
    if body.min_disk_gb is not None:
        image.min_disk_gb = body.min_disk_gb
    if body.min_ram_mb is not None:
        image.min_ram_mb = body.min_ram_mb
    await _flush_or_conflict(session, image.name)
    return image


async def delete_image(
    session: AsyncSession, runtime: Runtime, principal: Principal, image_id: str
) -> None:
    """Soft-delete an image nothing live uses (else 409) and remove its file after commit."""
    image = await get_image(session, principal, image_id, lock=RowLock.UPDATE)
    _check_may_change(principal, image)
    usage = {kind: n for kind, n in (await repository.image_usage(session, image_id)).items() if n}
    if usage:
        users = ", ".join(f"{count} {kind}" for kind, count in usage.items())
        raise Conflict(
            f"image {image_id} is in use by {users}", status=image.status, in_use_by=usage
        )
    image.status = ImageStatus.DELETED.value
    image.mark_deleted(image.id)
    await session.flush()
    store = image_store(runtime)

    async def _remove_file() -> None:
        await store.delete(image_id)

    # After commit: if the transaction failed, the image would still exist and need its file.
    after_commit(session, _remove_file)


async def upload_image_file(
    runtime: Runtime,
    principal: Principal,
    image_id: str,
    chunks: AsyncIterator[bytes],
    *,
    declared_length: int | None,
) -> Image:
    """Stream ``chunks`` in as the image's file and make the image active.

    Runs its own short transactions (claim, then finish) instead of one for the whole request.
    Errors: 404 unknown or invisible image, 403 another project's, 409 not ``queued`` (with
    ``details.status``), 413 over ``max_upload_bytes``, 422 on a format mismatch (naming
    ``disk_format``). On any failure the image is ``queued`` again and no file is left.
    """
    max_bytes = runtime.settings.max_upload_bytes
    async with unit_of_work(runtime.sessions, write=True) as session:
        image = await get_image(session, principal, image_id)
        _check_may_change(principal, image)
        _check_uploadable(image_id, image.status)
        if declared_length is not None and declared_length > max_bytes:
            raise ImageFileTooLarge(_too_large_message(max_bytes), max_bytes=max_bytes)
        claimed = await repository.compare_and_set(
            session,
            image_id,
            expect_status=ImageStatus.QUEUED.value,
            values={"status": ImageStatus.SAVING.value},
        )
        if not claimed:
            _check_uploadable(image_id, await repository.get_status(session, image_id))
    disk_format = DiskFormat(image.disk_format)
    store = image_store(runtime)
    try:
        stored = await store.write_stream(
            image_id, chunks, max_bytes=max_bytes, inspect_head=partial(check_format, disk_format)
        )
        return await _finish_upload(runtime, image_id, stored)
    except BaseException as exc:
        await _release_upload(runtime, store, image_id)
        if isinstance(exc, FormatMismatchError):
            raise ValidationFailed(
                str(exc),
                field="disk_format",
                disk_format=disk_format.value,
                detected_format=exc.detected.value if exc.detected else None,
            ) from exc
        if isinstance(exc, ImageTooLargeError):
            raise ImageFileTooLarge(_too_large_message(max_bytes), max_bytes=max_bytes) from exc
        raise


async def open_image_file(
    session: AsyncSession, runtime: Runtime, principal: Principal, image_id: str
) -> tuple[Image, AsyncIterator[bytes]]:
    """The active image and an iterator over its file; 409 with ``details.status`` otherwise,
    and 503 when the image store has no file for an active image (an unmounted share, lost
    data: nothing the caller did)."""
    image = await get_image(session, principal, image_id)
    if image.status != ImageStatus.ACTIVE.value:
        raise Conflict(
            f"image {image_id} is {image.status}; only an active image has a file to download",
            status=image.status,
        )
    try:
        chunks = await image_store(runtime).open_stream(image_id)
    except FileNotFoundError as exc:
        # An active image without its file is the store's fault, not the caller's: say so
        # loudly in the log, and answer as for any store that is away.
        log.error("image_file_missing", image_id=image_id)
        raise Unavailable(
            f"the image store has no file for image {image_id}", image_id=image_id
        ) from exc
    return image, chunks


async def _finish_upload(runtime: Runtime, image_id: str, stored: StoredFile) -> Image:
    async with unit_of_work(runtime.sessions, write=True) as session:
        finished = await repository.compare_and_set(
            session,
            image_id,
            expect_status=ImageStatus.SAVING.value,
            values={
                "status": ImageStatus.ACTIVE.value,
                "size_bytes": stored.size_bytes,
                "checksum_sha256": stored.checksum_sha256,
            },
        )
        if not finished:
            # Only a delete takes an image out of ``saving``; the caller removes the file.
            raise NotFound(RESOURCE, image_id)
        image = await repository.get_image(session, image_id)
        assert image is not None  # just updated in this transaction
        return image


async def release_interrupted_uploads(runtime: Runtime) -> list[str]:
    """At start-up of the embedded form, where this process is the only uploader: uploads the
    previous process was receiving when it died end as failed uploads do. Their images are
    ``queued`` again (the client uploads anew) and their temporary files are removed.

    Returns the ids of the images put back.
    """
    async with unit_of_work(runtime.sessions, write=True) as session:
        requeued = await repository.requeue_all_saving(session)
    removed = await image_store(runtime).remove_partial_files()
    if requeued or removed:
        log.warning("image_uploads_interrupted", image_ids=requeued, partial_files_removed=removed)
    return requeued


async def _release_upload(runtime: Runtime, store: ImageStore, image_id: str) -> None:
    """Undo a failed upload: remove its file and put the image back to ``queued``.

    Never raises: the upload's own error is the one the client must see.
    """
    try:
        await store.delete(image_id)
        async with unit_of_work(runtime.sessions, write=True) as session:
            await repository.compare_and_set(
                session,
                image_id,
                expect_status=ImageStatus.SAVING.value,
                values={"status": ImageStatus.QUEUED.value},
            )
    except Exception as exc:
        # The image stays ``saving`` and needs an admin; the upload's error still goes out.
        log.error("image_upload_release_failed", image_id=image_id, error=str(exc))


def _check_uploadable(image_id: str, status: str | None) -> None:
    if status is None or status == ImageStatus.DELETED.value:
        raise NotFound(RESOURCE, image_id)
    if status != ImageStatus.QUEUED.value:
        raise Conflict(
            f"image {image_id} is {status}; a file can be uploaded only while it is queued",
            status=status,
        )


def _too_large_message(max_bytes: int) -> str:
    return f"the image file is larger than the limit of {max_bytes} bytes"


def _check_may_change(principal: Principal, image: Image) -> None:
    if not principal.is_admin and image.project_id != principal.project_id:
        raise Forbidden(f"image {image.id} belongs to another project and is read-only to you")


def _check_visibility_allowed(principal: Principal, visibility: Visibility) -> None:
    if visibility is Visibility.PUBLIC and not principal.is_admin:
        raise Forbidden("only an admin may make an image public")


async def _flush_or_conflict(session: AsyncSession, name: str) -> None:
    """Flush; the live-name unique constraint turns a taken name into 409."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"an image named {name!r} already exists in this project") from exc

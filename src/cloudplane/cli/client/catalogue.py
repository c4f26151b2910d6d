"""``cloudplane flavor …`` and ``cloudplane image …``: what servers are built from."""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Annotated, Any

import typer

from cloudplane.cli.client.api import ApiClient
from cloudplane.cli.client.credentials import open_client
from cloudplane.cli.client.errors import ClientError
from cloudplane.cli.client.lookup import FLAVOR, IMAGE, resolve_id
from cloudplane.cli.client.output import (
    Column,
    FormatOption,
    OutputFormat,
    print_resource,
    reports_errors,
)
from cloudplane.cli.client.resource_commands import list_resources, show_resource

flavor_app = typer.Typer(help="Server sizes.", no_args_is_help=True)
image_app = typer.Typer(help="Disk images servers boot from.", no_args_is_help=True)

FlavorArg = Annotated[str, typer.Argument(metavar="ID_OR_NAME", help="The flavor's id or name.")]
ImageArg = Annotated[str, typer.Argument(metavar="ID_OR_NAME", help="The image's id or name.")]
LimitOption = Annotated[int | None, typer.Option(min=1, help="At most this many (default: all).")]

FLAVOR_COLUMNS = [
    Column("ID", "id"),
    Column("Name", "name"),
    Column("vCPUs", "vcpus"),
    Column("RAM (MB)", "ram_mb"),
    Column("Disk (GB)", "disk_gb"),
    Column("Public", "is_public"),
]
IMAGE_COLUMNS = [
    Column("ID", "id"),
    Column("Name", "name"),
    Column("Status", "status"),
    Column("Format", "disk_format"),
    Column("Size (bytes)", "size_bytes"),
    Column("Visibility", "visibility"),
]


class DiskFormat(enum.StrEnum):
    """Image formats the API accepts."""

    qcow2 = "qcow2"
    raw = "raw"
    iso = "iso"


@flavor_app.command("list")
@reports_errors
def list_flavors(limit: LimitOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List flavors."""
    list_resources(FLAVOR, FLAVOR_COLUMNS, fmt, limit=limit)


@flavor_app.command("show")
@reports_errors
def show_flavor(flavor: FlavorArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Show one flavor."""
    show_resource(FLAVOR, flavor, fmt)


@image_app.command("list")
@reports_errors
def list_images(limit: LimitOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List images."""
    list_resources(IMAGE, IMAGE_COLUMNS, fmt, limit=limit)


@image_app.command("show")
@reports_errors
def show_image(image: ImageArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Show one image."""
    show_resource(IMAGE, image, fmt)


@image_app.command("create")
@reports_errors
def create_image(
    name: Annotated[str, typer.Argument(help="Name of the new image.")],
    file: Annotated[
        Path,
        typer.Option("--file", exists=True, dir_okay=False, readable=True, help="The disk file."),
    ],
    disk_format: Annotated[DiskFormat, typer.Option("--disk-format", help="The file's format.")],
    min_disk_gb: Annotated[int | None, typer.Option(min=0, help="Smallest root disk.")] = None,
    min_ram_mb: Annotated[int | None, typer.Option(min=0, help="Smallest RAM.")] = None,
    public: Annotated[bool, typer.Option("--public", help="Visible to every project.")] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Register an image and upload its file (streamed, never read whole into memory)."""
    body: dict[str, Any] = {
        "name": name,
        "disk_format": disk_format.value,
        "visibility": "public" if public else "private",
    }
    if min_disk_gb is not None:
        body["min_disk_gb"] = min_disk_gb
    if min_ram_mb is not None:
        body["min_ram_mb"] = min_ram_mb
    with open_client() as client:
        image_id = client.create(IMAGE.path, body).resource.get("id")
        if not isinstance(image_id, str):
            raise ClientError("bad_response", "the created image has no id")
        try:
            with file.open("rb") as source:
                sent = client.upload(
                    f"{IMAGE.item_path(image_id)}/file", source, size_bytes=file.stat().st_size
                )
        except ClientError as exc:
            raise _upload_failed(client, image_id, exc) from exc
        image = client.get(IMAGE.item_path(image_id))
    _check_checksum(image, sent.sha256, what=f"the upload of {file}")
    print_resource(image, fmt)


@image_app.command("download")
@reports_errors
def download_image(
    image: ImageArg,
    output: Annotated[
        Path, typer.Option("--output", "-o", dir_okay=False, help="Where to write the file.")
    ],
) -> None:
    """Download an image's file (streamed to disk, checked against its SHA-256)."""
    # Write beside the target and rename at the end, so a failed download never leaves a
    # truncated file under the wanted name.
    partial = output.with_name(f".{output.name}.part")
    with open_client() as client:
        image_id = resolve_id(client, IMAGE, image)
        record = client.get(IMAGE.item_path(image_id))
        try:
            with partial.open("wb") as sink:
                received = client.download(f"{IMAGE.item_path(image_id)}/file", sink)
            _check_checksum(record, received.sha256, what=f"the download of image {image_id}")
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
    os.replace(partial, output)
    typer.echo(f"Wrote {received.size_bytes} bytes to {output}.")


@image_app.command("delete")
@reports_errors
def delete_image(image: ImageArg) -> None:
    """Delete an image (refused while a live server or volume uses it)."""
    with open_client() as client:
        image_id = resolve_id(client, IMAGE, image)
        client.delete(IMAGE.item_path(image_id))
    typer.echo(f"Deleted image {image}.")


def _upload_failed(client: ApiClient, image_id: str, cause: ClientError) -> ClientError:
    """The error for a failed upload, after removing the empty record this command made.

    ``image create`` is one action to the user: if the data did not arrive, the record is taken
    away again rather than left behind holding nothing.
    """
    try:
        client.delete(IMAGE.item_path(image_id))
        aftermath = "the image record was removed again"
    except ClientError:
        aftermath = f"remove the empty record with `cloudplane image delete {image_id}`"
    return ClientError(
        cause.code,
        f"uploading the file of image {image_id} failed: {cause.message} ({aftermath})",
        request_id=cause.request_id,
        details=cause.details,
    )


def _check_checksum(image: Any, sha256: str, *, what: str) -> None:
    """Compare the bytes moved with the image's ``checksum_sha256`` when the API states one."""
    expected = image.get("checksum_sha256") if isinstance(image, dict) else None
    if isinstance(expected, str) and expected and expected.lower() != sha256:
        raise ClientError(
            "checksum_mismatch",
            f"{what} has SHA-256 {sha256} but the image says {expected}",
        )

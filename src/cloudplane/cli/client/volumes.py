"""``cloudplane volume …``: block-storage volumes, and attaching them to servers."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cloudplane.cli.client.api import API, Accepted, ApiClient
from cloudplane.cli.client.credentials import open_client
from cloudplane.cli.client.lookup import IMAGE, SERVER, SNAPSHOT, VOLUME, resolve_id
from cloudplane.cli.client.output import (
    Column,
    FormatOption,
    OutputFormat,
    reports_errors,
)
from cloudplane.cli.client.resource_commands import (
    create_and_follow,
    delete_and_follow,
    list_resources,
    rename_resource,
    show_resource,
)
from cloudplane.cli.client.waiting import TimeoutOption, WaitOption, finish

volume_app = typer.Typer(help="Block-storage volumes.", no_args_is_help=True)

VolumeArg = Annotated[str, typer.Argument(metavar="VOLUME", help="The volume's id or name.")]
ServerArg = Annotated[str, typer.Argument(metavar="SERVER", help="The server's id or name.")]
SizeOption = Annotated[int, typer.Option("--size", min=1, metavar="GB", help="Size in GB.")]
# Copying an image onto a new volume can take a while on real storage.
DEFAULT_TIMEOUT_S = 300.0


def _attached_to(volume: dict[str, Any]) -> str:
    attachments = volume.get("attachments") or []
    return ", ".join(
        f"{entry.get('server_id')} ({entry.get('device')})"
        for entry in attachments
        if isinstance(entry, dict)
    )


VOLUME_COLUMNS = [
    Column("ID", "id"),
    Column("Name", "name"),
    Column("Status", "status"),
    Column("Size (GB)", "size_gb"),
    Column("Type", "volume_type"),
    Column("Bootable", "bootable"),
    Column("Attached to", _attached_to),
    Column("Created", "created_at"),
]


@volume_app.command("list")
@reports_errors
def list_volumes(
    all_projects: Annotated[
        bool, typer.Option("--all-projects", help="Every project's volumes (admin).")
    ] = False,
    status: Annotated[
        str | None, typer.Option(help="Only volumes in this status (available, in-use, …).")
    ] = None,
    name_prefix: Annotated[
        str | None, typer.Option(help="Only volumes whose name starts with this.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most this many volumes (default: all).")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List volumes."""
    params: dict[str, str | int | bool | None] = {
        # Volume statuses are lower case in the API; accept them typed either way.
        "status": status.lower() if status else None,
        "name_prefix": name_prefix,
    }
    list_resources(
        VOLUME, VOLUME_COLUMNS, fmt, params=params, limit=limit, all_projects=all_projects
    )


@volume_app.command("show")
@reports_errors
def show_volume(volume: VolumeArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Show one volume with its attachment."""
    show_resource(VOLUME, volume, fmt)


@volume_app.command("create")
@reports_errors
def create_volume(
    name: Annotated[str, typer.Argument(help="Name of the new volume.")],
    size: SizeOption,
    volume_type: Annotated[
        str | None,
        typer.Option("--type", metavar="TYPE", help="Volume type id or name (default: default)."),
    ] = None,
    image: Annotated[
        str | None, typer.Option(help="Image id or name to copy onto it (makes it bootable).")
    ] = None,
    snapshot: Annotated[
        str | None, typer.Option(help="Snapshot id or name to make it from.")
    ] = None,
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
    wait: WaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Create a volume: blank, from an image, or from a snapshot."""
    if image is not None and snapshot is not None:
        raise typer.BadParameter("give --image or --snapshot, not both", param_hint="--snapshot")
    body: dict[str, Any] = {"name": name, "size_gb": size}
    if description is not None:
        body["description"] = description
    if volume_type is not None:
        # The API takes a type's name or id here, so it is passed on as typed.
        body["volume_type"] = volume_type
    create_and_follow(
        VOLUME,
        body,
        lookups={"image_id": (IMAGE, image), "snapshot_id": (SNAPSHOT, snapshot)},
        wanted={"available"},
        wait=wait,
        timeout_s=timeout,
        fmt=fmt,
    )


@volume_app.command("rename")
@reports_errors
def rename_volume(
    volume: VolumeArg,
    new_name: Annotated[str, typer.Argument(help="The new name.")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Give a volume a new name."""
    rename_resource(VOLUME, volume, new_name, fmt)


@volume_app.command("extend")
@reports_errors
def extend_volume(
    volume: VolumeArg,
    size: Annotated[
        int, typer.Option("--size", min=1, metavar="GB", help="The new size, larger than now.")
    ],
    wait: WaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Grow a volume to a new size (volumes never shrink)."""
    with open_client() as client:
        volume_id = resolve_id(client, VOLUME, volume)
        accepted = client.act("POST", f"{VOLUME.item_path(volume_id)}/extend", {"size_gb": size})
        finish(
            client,
            accepted,
            kind=VOLUME,
            resource_id=volume_id,
            wanted={"available", "in-use"},
            wait=wait,
            timeout_s=timeout,
            fmt=fmt,
        )


@volume_app.command("delete")
@reports_errors
def delete_volume(
    volume: VolumeArg,
    wait: WaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Delete a volume (refused while it is attached or has snapshots)."""
    delete_and_follow(VOLUME, volume, wait=wait, timeout_s=timeout, fmt=fmt)


@volume_app.command("attach")
@reports_errors
def attach_volume(
    server: ServerArg,
    volume: VolumeArg,
    device: Annotated[
        str | None,
        typer.Option(metavar="vdX", help="Device name, vdb to vdz (default: the first free)."),
    ] = None,
    wait: WaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Attach an available volume to a server."""
    with open_client() as client:
        server_id = resolve_id(client, SERVER, server)
        volume_id = resolve_id(client, VOLUME, volume)
        body: dict[str, Any] = {"volume_id": volume_id}
        if device is not None:
            body["device"] = device
        accepted = client.act("POST", _server_volumes_path(server_id), body)
        _finish_attachment(
            client, accepted, volume_id, "in-use", wait=wait, timeout_s=timeout, fmt=fmt
        )


@volume_app.command("detach")
@reports_errors
def detach_volume(
    server: ServerArg,
    volume: VolumeArg,
    wait: WaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Detach a data volume from a server (never its boot volume)."""
    with open_client() as client:
        server_id = resolve_id(client, SERVER, server)
        volume_id = resolve_id(client, VOLUME, volume)
        accepted = client.act("DELETE", f"{_server_volumes_path(server_id)}/{volume_id}")
        _finish_attachment(
            client, accepted, volume_id, "available", wait=wait, timeout_s=timeout, fmt=fmt
        )


def _finish_attachment(
    client: ApiClient,
    accepted: Accepted,
    volume_id: str,
    settled: str,
    *,
    wait: bool,
    timeout_s: float,
    fmt: OutputFormat,
) -> None:
    """Print an accepted attach or detach like any other accepted volume action.

    The API answers ``{volume, server_id, device, operation_id}``: JSON prints that body as it
    is; a table shows the volume in it (its ``attachments`` name the device). After ``--wait``
    both show the volume as it then is.
    """
    resource = accepted.resource
    nested = resource.get("volume")
    if fmt is OutputFormat.table and isinstance(nested, dict):
        resource = nested
    finish(
        client,
        Accepted(resource, accepted.operation_id),
        kind=VOLUME,
        resource_id=volume_id,
        wanted={settled},
        wait=wait,
        timeout_s=timeout_s,
        fmt=fmt,
    )


def _server_volumes_path(server_id: str) -> str:
    return f"{API}/servers/{server_id}/volumes"

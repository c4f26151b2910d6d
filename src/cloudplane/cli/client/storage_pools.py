"""``cloudplane storage-pool …`` and ``volume-type …`` (admin): where volumes are stored."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import typer

from cloudplane.cli.client.credentials import open_client
from cloudplane.cli.client.lookup import STORAGE_POOL, VOLUME_TYPE, resolve_id
from cloudplane.cli.client.output import (
    Column,
    FormatOption,
    OutputFormat,
    print_resource,
    reports_errors,
)
from cloudplane.cli.client.resource_commands import delete_resource, list_resources, show_resource

storage_pool_app = typer.Typer(help="Storage pools volumes live in (admin).", no_args_is_help=True)
volume_type_app = typer.Typer(
    help="Volume types: which pool a new volume goes to (admin changes).", no_args_is_help=True
)

PoolArg = Annotated[str, typer.Argument(metavar="POOL", help="The pool's id or name.")]
TypeArg = Annotated[str, typer.Argument(metavar="TYPE", help="The volume type's id or name.")]
LimitOption = Annotated[int | None, typer.Option(min=1, help="At most this many (default: all).")]

STORAGE_POOL_COLUMNS = [
    Column("ID", "id"),
    Column("Name", "name"),
    Column("Kind", "kind"),
    Column("Path", "path"),
    Column("Capacity (GB)", "capacity_gb"),
    Column("Allocated (GB)", "allocated_gb"),
    Column("Available (GB)", "available_gb"),
    Column("Status", "status"),
]
VOLUME_TYPE_COLUMNS = [
    Column("ID", "id"),
    Column("Name", "name"),
    Column("Pool", "storage_pool_id"),
    Column("Default", "is_default"),
    Column("Description", "description"),
]


class PoolKind(enum.StrEnum):
    """Pool kinds the API accepts."""

    dir = "dir"
    nfs = "nfs"


@storage_pool_app.command("list")
@reports_errors
def list_storage_pools(limit: LimitOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List storage pools with their capacity and what is allocated."""
    list_resources(STORAGE_POOL, STORAGE_POOL_COLUMNS, fmt, limit=limit)


@storage_pool_app.command("show")
@reports_errors
def show_storage_pool(pool: PoolArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Show one storage pool."""
    show_resource(STORAGE_POOL, pool, fmt)


@storage_pool_app.command("create")
@reports_errors
def create_storage_pool(
    name: Annotated[str, typer.Argument(help="Name of the new pool.")],
    kind: Annotated[PoolKind, typer.Option("--kind", help="dir (a local directory) or nfs.")],
    path: Annotated[
        str | None,
        typer.Option(help="dir: the directory (made if missing); nfs: an export mounted there."),
    ] = None,
    export: Annotated[
        str | None,
        typer.Option(metavar="SERVER:/PATH", help="nfs only: an export for cloudplane to mount."),
    ] = None,
    capacity_gb: Annotated[
        int | None, typer.Option(min=1, help="Capacity to offer (default: the file system's).")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Create a storage pool: a directory, or an NFS export (mounted already or by cloudplane)."""
    if kind is PoolKind.dir and (path is None or export is not None):
        raise typer.BadParameter("a dir pool takes --path and no --export", param_hint="--path")
    if kind is PoolKind.nfs and (path is None) == (export is None):
        raise typer.BadParameter(
            "an nfs pool takes either --export (to mount) or --path (already mounted)",
            param_hint="--export",
        )
    body: dict[str, Any] = {"name": name, "kind": kind.value}
    if path is not None:
        body["path"] = path
    if export is not None:
        body["export"] = export
    if capacity_gb is not None:
        body["capacity_gb"] = capacity_gb
    with open_client() as client:
        print_resource(client.create(STORAGE_POOL.path, body).resource, fmt)


@storage_pool_app.command("delete")
@reports_errors
def delete_storage_pool(pool: PoolArg) -> None:
    """Delete a storage pool (refused while volumes or volume types use it)."""
    delete_resource(STORAGE_POOL, pool)


@volume_type_app.command("list")
@reports_errors
def list_volume_types(limit: LimitOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List volume types."""
    list_resources(VOLUME_TYPE, VOLUME_TYPE_COLUMNS, fmt, limit=limit)


@volume_type_app.command("create")
@reports_errors
def create_volume_type(
    name: Annotated[str, typer.Argument(help="Name of the new volume type.")],
    pool: Annotated[str, typer.Option("--pool", help="Storage pool id or name.")],
    default: Annotated[
        bool, typer.Option("--default", help="Make it the type used when a volume names none.")
    ] = False,
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Create a volume type that places volumes in one storage pool."""
    body: dict[str, Any] = {"name": name, "is_default": default}
    if description is not None:
        body["description"] = description
    with open_client() as client:
        body["storage_pool_id"] = resolve_id(client, STORAGE_POOL, pool)
        print_resource(client.create(VOLUME_TYPE.path, body).resource, fmt)


@volume_type_app.command("show")
@reports_errors
def show_volume_type(volume_type: TypeArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Show one volume type."""
    show_resource(VOLUME_TYPE, volume_type, fmt)


@volume_type_app.command("delete")
@reports_errors
def delete_volume_type(volume_type: TypeArg) -> None:
    """Delete a volume type (refused for the default type and while volumes use it)."""
    delete_resource(VOLUME_TYPE, volume_type)

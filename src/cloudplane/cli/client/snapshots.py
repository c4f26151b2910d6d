"""``cloudplane snapshot …``: point-in-time copies of volumes."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cloudplane.cli.client.credentials import open_client
from cloudplane.cli.client.lookup import SNAPSHOT, VOLUME, resolve_id
from cloudplane.cli.client.output import (
    Column,
    FormatOption,
    OutputFormat,
    print_list,
    print_resource,
    reports_errors,
)
from cloudplane.cli.client.waiting import TimeoutOption, WaitOption, finish, finish_delete

snapshot_app = typer.Typer(help="Volume snapshots.", no_args_is_help=True)

SnapshotArg = Annotated[str, typer.Argument(metavar="SNAPSHOT", help="The snapshot's id or name.")]
DEFAULT_TIMEOUT_S = 300.0

SNAPSHOT_COLUMNS = [
    Column("ID", "id"),
    Column("Name", "name"),
    Column("Status", "status"),
    Column("Size (GB)", "size_gb"),
    Column("Volume", "volume_id"),
    Column("Created", "created_at"),
]


@snapshot_app.command("list")
@reports_errors
def list_snapshots(
    all_projects: Annotated[
        bool, typer.Option("--all-projects", help="Every project's snapshots (admin).")
    ] = False,
    volume: Annotated[
        str | None, typer.Option(help="Only snapshots of this volume (id or name).")
    ] = None,
    status: Annotated[str | None, typer.Option(help="Only snapshots in this status.")] = None,
    name_prefix: Annotated[
        str | None, typer.Option(help="Only snapshots whose name starts with this.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most this many snapshots (default: all).")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List snapshots."""
    params: dict[str, str | int | bool | None] = {
        "all_projects": True if all_projects else None,
        "status": status.lower() if status else None,
        "name_prefix": name_prefix,
    }
    columns = list(SNAPSHOT_COLUMNS)
    if all_projects:
        columns.insert(2, Column("Project", "project_id"))
    with open_client() as client:
        if volume is not None:
            params["volume_id"] = resolve_id(client, VOLUME, volume)
        page = client.collect(SNAPSHOT.path, params, max_items=limit)
    print_list(page, columns, fmt)


@snapshot_app.command("show")
@reports_errors
def show_snapshot(snapshot: SnapshotArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Show one snapshot."""
    with open_client() as client:
        snapshot_id = resolve_id(client, SNAPSHOT, snapshot)
        print_resource(client.get(SNAPSHOT.item_path(snapshot_id)), fmt)


@snapshot_app.command("create")
@reports_errors
def create_snapshot(
    name: Annotated[str, typer.Argument(help="Name of the new snapshot.")],
    volume: Annotated[str, typer.Option("--volume", help="Volume id or name to snapshot.")],
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
    wait: WaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Snapshot a volume (available or in use)."""
    body: dict[str, Any] = {"name": name}
    if description is not None:
        body["description"] = description
    with open_client() as client:
        body["volume_id"] = resolve_id(client, VOLUME, volume)
        accepted = client.create(SNAPSHOT.path, body)
        finish(
            client,
            accepted,
            kind=SNAPSHOT,
            resource_id=None,
            wanted={"available"},
            wait=wait,
            timeout_s=timeout,
            fmt=fmt,
        )


@snapshot_app.command("rename")
@reports_errors
def rename_snapshot(
    snapshot: SnapshotArg,
    new_name: Annotated[str, typer.Argument(help="The new name.")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Give a snapshot a new name."""
    with open_client() as client:
        snapshot_id = resolve_id(client, SNAPSHOT, snapshot)
        print_resource(client.patch(SNAPSHOT.item_path(snapshot_id), {"name": new_name}), fmt)


@snapshot_app.command("delete")
@reports_errors
def delete_snapshot(
    snapshot: SnapshotArg,
    wait: WaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Delete a snapshot."""
    with open_client() as client:
        snapshot_id = resolve_id(client, SNAPSHOT, snapshot)
        accepted = client.act("DELETE", SNAPSHOT.item_path(snapshot_id))
        finish_delete(
            client,
            accepted,
            kind=SNAPSHOT,
            resource_id=snapshot_id,
            label=snapshot,
            wait=wait,
            timeout_s=timeout,
            fmt=fmt,
        )

"""``cloudplane snapshot …``: point-in-time copies of volumes."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cloudplane.cli.client.lookup import SNAPSHOT, VOLUME
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
from cloudplane.cli.client.waiting import TimeoutOption, WaitOption

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
    list_resources(
        SNAPSHOT,
        SNAPSHOT_COLUMNS,
        fmt,
        params={"status": status.lower() if status else None, "name_prefix": name_prefix},
        lookups={"volume_id": (VOLUME, volume)},
        limit=limit,
        all_projects=all_projects,
    )


@snapshot_app.command("show")
@reports_errors
def show_snapshot(snapshot: SnapshotArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Show one snapshot."""
    show_resource(SNAPSHOT, snapshot, fmt)


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
    create_and_follow(
        SNAPSHOT,
        body,
        lookups={"volume_id": (VOLUME, volume)},
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
    rename_resource(SNAPSHOT, snapshot, new_name, fmt)


@snapshot_app.command("delete")
@reports_errors
def delete_snapshot(
    snapshot: SnapshotArg,
    wait: WaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Delete a snapshot."""
    delete_and_follow(SNAPSHOT, snapshot, wait=wait, timeout_s=timeout, fmt=fmt)

"""``cloudplane operation …`` and ``cloudplane audit …``: what was done, and by whom."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cloudplane.cli.client.api import API
from cloudplane.cli.client.credentials import open_client
from cloudplane.cli.client.output import (
    Column,
    FormatOption,
    OutputFormat,
    print_list,
    print_resource,
    print_rows,
    reports_errors,
)

operation_app = typer.Typer(
    help="Asynchronous operations and their progress.", no_args_is_help=True
)
audit_app = typer.Typer(help="The audit trail of mutating requests.", no_args_is_help=True)

OPERATIONS = f"{API}/operations"
AUDIT_EVENTS = f"{API}/audit-events"
DEFAULT_LIMIT = 50

OPERATION_COLUMNS = [
    Column("ID", "id"),
    Column("Action", "action"),
    Column("Resource", lambda op: f"{op.get('resource_type') or ''} {op.get('resource_id') or ''}"),
    Column("Status", "status"),
    Column("Created", "created_at"),
    Column("Finished", "finished_at"),
]
AUDIT_COLUMNS = [
    Column("At", "at"),
    Column("Method", "method"),
    Column("Path", "path"),
    Column("Status", "status_code"),
    Column("Outcome", "outcome"),
    Column("User", "user_id"),
    Column("Request", "request_id"),
]


@operation_app.command("list")
@reports_errors
def list_operations(
    resource_id: Annotated[
        str | None, typer.Option(help="Only operations on this resource (its id).")
    ] = None,
    status: Annotated[
        str | None, typer.Option(help="pending, running, succeeded or failed.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = (
        DEFAULT_LIMIT
    ),
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List operations, newest first."""
    params: dict[str, str | int | bool | None] = {
        "resource_id": resource_id,
        "status": status.lower() if status else None,
        "sort": "created_at:desc",
    }
    with open_client() as client:
        page = client.collect(OPERATIONS, params, max_items=limit)
    print_list(page, OPERATION_COLUMNS, fmt)


@operation_app.command("show")
@reports_errors
def show_operation(
    operation_id: Annotated[str, typer.Argument(metavar="ID", help="The operation's id.")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show one operation with its events."""
    with open_client() as client:
        operation = client.get(f"{OPERATIONS}/{operation_id}")
    if fmt is OutputFormat.json or not isinstance(operation, dict):
        print_resource(operation, fmt)
        return
    events: Any = operation.get("events")
    print_resource({key: value for key, value in operation.items() if key != "events"}, fmt)
    if isinstance(events, list) and events:
        rows = [
            (event.get("at"), event.get("message")) for event in events if isinstance(event, dict)
        ]
        typer.echo()
        print_rows(["At", "Message"], rows, title="Events")


@audit_app.command("list")
@reports_errors
def list_audit_events(
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = DEFAULT_LIMIT,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List audit events (admins see every project's, others their own)."""
    with open_client() as client:
        page = client.collect(AUDIT_EVENTS, max_items=limit)
    print_list(page, AUDIT_COLUMNS, fmt)

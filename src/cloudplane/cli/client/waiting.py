"""What a command does with a ``202 Accepted``: report it, or wait for it and show the result."""

from __future__ import annotations

from typing import Annotated

import typer

from cloudplane.cli.client.api import Accepted, ApiClient
from cloudplane.cli.client.errors import BadResponseError
from cloudplane.cli.client.lookup import Kind
from cloudplane.cli.client.output import OutputFormat, print_json, print_note, print_resource

WaitOption = Annotated[
    bool, typer.Option("--wait", help="Wait for the operation to finish, then show the result.")
]
TimeoutOption = Annotated[
    float, typer.Option("--timeout", min=1, help="Seconds --wait waits before giving up.")
]


def finish(
    client: ApiClient,
    accepted: Accepted,
    *,
    kind: Kind,
    resource_id: str | None,
    wanted: set[str],
    wait: bool,
    timeout_s: float,
    fmt: OutputFormat,
) -> None:
    """Print an accepted create or action; with ``wait``, first wait for it and re-read.

    Waiting follows the operation when the answer names one; otherwise (the contract promises
    one, so this is a fallback) it polls the resource until its status is in ``wanted``.
    """
    target = resource_id or _str(accepted.resource.get("id"))
    if not wait:
        if accepted.resource:
            print_resource(accepted.resource, fmt)
        _note_operation(accepted, fmt)
        return
    if accepted.operation_id:
        operation = client.wait_for_operation(accepted.operation_id, timeout_s)
        target = target or _str(operation.get("resource_id"))
        if target is None:
            # Nothing to re-read: the finished operation is the best answer there is.
            print_resource(operation, fmt)
            return
        print_resource(client.get(kind.item_path(target)), fmt)
        return
    if target is None:
        raise BadResponseError(f"the answer names neither the {kind.singular} nor an operation")
    print_resource(client.wait_for_status(kind.item_path(target), wanted, timeout_s), fmt)


def finish_delete(
    client: ApiClient,
    accepted: Accepted,
    *,
    kind: Kind,
    resource_id: str,
    label: str,
    wait: bool,
    timeout_s: float,
    fmt: OutputFormat,
) -> None:
    """Report an accepted delete; with ``wait``, return only once the resource is gone.

    In JSON the answer is the API's body (or, after waiting, the finished operation); in a table
    it is one sentence.
    """
    operation = None
    if wait:
        if accepted.operation_id:
            operation = client.wait_for_operation(accepted.operation_id, timeout_s)
        else:
            client.wait_for_deletion(kind.item_path(resource_id), timeout_s)
    if fmt is OutputFormat.json:
        body = operation or accepted.resource
        if body:
            print_json(body)
        return
    if wait:
        typer.echo(f"Deleted {kind.singular} {label}.")
    else:
        suffix = f" (operation {accepted.operation_id})" if accepted.operation_id else ""
        typer.echo(f"Deletion of {kind.singular} {label} accepted{suffix}.")


def _note_operation(accepted: Accepted, fmt: OutputFormat) -> None:
    # In a table the operation id may not be among the fields shown; say where to follow it.
    if accepted.operation_id and fmt is OutputFormat.table:
        print_note(
            f"Operation {accepted.operation_id} accepted; follow it with "
            f"`cloudplane operation show {accepted.operation_id}`."
        )


def _str(value: object) -> str | None:
    return str(value) if value is not None else None

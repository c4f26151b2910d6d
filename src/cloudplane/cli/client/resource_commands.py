"""The bodies that most resource commands share: list, show, rename, create, delete.

Each command keeps its own options and help text and states only what is its own (filters,
columns, the request body, the status it waits for); the requests and the printing are here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import typer

from cloudplane.cli.client.api import ApiClient, Params
from cloudplane.cli.client.credentials import open_client
from cloudplane.cli.client.lookup import Kind, resolve_id
from cloudplane.cli.client.output import Column, OutputFormat, print_list, print_resource
from cloudplane.cli.client.waiting import finish, finish_delete

Lookups = Mapping[str, tuple[Kind, str | None]]
"""Request fields given as a person typed them: field → (kind, id or name, or None to leave out)."""

PROJECT_COLUMN = Column("Project", "project_id")


def list_resources(
    kind: Kind,
    columns: Sequence[Column],
    fmt: OutputFormat,
    *,
    params: Params | None = None,
    lookups: Lookups | None = None,
    limit: int | None = None,
    all_projects: bool = False,
) -> None:
    """Print every ``kind`` that ``params`` and ``lookups`` select, at most ``limit``.

    With ``all_projects`` (admin) the list spans projects and gains a Project column.
    """
    query: dict[str, str | int | bool | None] = dict(params or {})
    shown = list(columns)
    if all_projects:
        query["all_projects"] = True
        shown.insert(2, PROJECT_COLUMN)
    with open_client() as client:
        query.update(_resolved(client, lookups))
        page = client.collect(kind.path, query, max_items=limit)
    print_list(page, shown, fmt)


def show_resource(kind: Kind, ref: str, fmt: OutputFormat) -> None:
    """Print the ``kind`` that ``ref`` (id or name) names."""
    with open_client() as client:
        print_resource(client.get(kind.item_path(resolve_id(client, kind, ref))), fmt)


def rename_resource(kind: Kind, ref: str, new_name: str, fmt: OutputFormat) -> None:
    """Give the ``kind`` that ``ref`` names a new name and print it."""
    with open_client() as client:
        resource_id = resolve_id(client, kind, ref)
        print_resource(client.patch(kind.item_path(resource_id), {"name": new_name}), fmt)


def create_and_follow(
    kind: Kind,
    body: dict[str, Any],
    *,
    lookups: Lookups | None = None,
    wanted: set[str],
    wait: bool,
    timeout_s: float,
    fmt: OutputFormat,
) -> None:
    """Create a ``kind`` whose creation is an operation (202); print it, or with ``wait`` wait
    until it reaches a status in ``wanted`` and print it then."""
    with open_client() as client:
        accepted = client.create(kind.path, {**body, **_resolved(client, lookups)})
        finish(
            client,
            accepted,
            kind=kind,
            resource_id=None,
            wanted=wanted,
            wait=wait,
            timeout_s=timeout_s,
            fmt=fmt,
        )


def delete_resource(kind: Kind, ref: str, *, done: str = "Deleted") -> None:
    """Delete the ``kind`` that ``ref`` names, at once (204), and say so."""
    with open_client() as client:
        client.delete(kind.item_path(resolve_id(client, kind, ref)))
    typer.echo(f"{done} {kind.singular} {ref}.")


def delete_and_follow(
    kind: Kind, ref: str, *, wait: bool, timeout_s: float, fmt: OutputFormat
) -> None:
    """Delete the ``kind`` that ``ref`` names through an operation (202); with ``wait``, return
    once it is gone."""
    with open_client() as client:
        resource_id = resolve_id(client, kind, ref)
        accepted = client.act("DELETE", kind.item_path(resource_id))
        finish_delete(
            client,
            accepted,
            kind=kind,
            resource_id=resource_id,
            label=ref,
            wait=wait,
            timeout_s=timeout_s,
            fmt=fmt,
        )


def _resolved(client: ApiClient, lookups: Lookups | None) -> dict[str, str]:
    return {
        field: resolve_id(client, kind, ref)
        for field, (kind, ref) in (lookups or {}).items()
        if ref is not None
    }

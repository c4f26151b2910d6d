"""``cloudplane project …``, ``quota …`` and ``member …``: tenants, their limits and people."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import typer

from cloudplane.cli.client.credentials import open_client
from cloudplane.cli.client.lookup import PROJECT, USER, resolve_id
from cloudplane.cli.client.output import (
    Column,
    FormatOption,
    OutputFormat,
    print_json,
    print_resource,
    print_rows,
    reports_errors,
)
from cloudplane.cli.client.resource_commands import delete_resource, list_resources, show_resource

project_app = typer.Typer(help="Projects (admin).", no_args_is_help=True)
quota_app = typer.Typer(help="Project quotas (admin).", no_args_is_help=True)
member_app = typer.Typer(help="Project membership and roles (admin).", no_args_is_help=True)

ProjectArg = Annotated[
    str, typer.Argument(metavar="PROJECT", help="The project's id or name.", show_default=False)
]
LimitOption = Annotated[int | None, typer.Option(min=1, help="At most this many (default: all).")]

PROJECT_COLUMNS = [
    Column("ID", "id"),
    Column("Name", "name"),
    Column("Description", "description"),
    Column("Created", "created_at"),
]


class Role(enum.StrEnum):
    """Per-project roles."""

    member = "member"
    reader = "reader"


@project_app.command("list")
@reports_errors
def list_projects(limit: LimitOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List projects."""
    list_resources(PROJECT, PROJECT_COLUMNS, fmt, limit=limit)


@project_app.command("show")
@reports_errors
def show_project(project: ProjectArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Show one project."""
    show_resource(PROJECT, project, fmt)


@project_app.command("create")
@reports_errors
def create_project(
    name: Annotated[str, typer.Argument(help="Name of the new project.")],
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Create a project."""
    body: dict[str, Any] = {"name": name}
    if description is not None:
        body["description"] = description
    with open_client() as client:
        print_resource(client.create(PROJECT.path, body).resource, fmt)


@project_app.command("delete")
@reports_errors
def delete_project(project: ProjectArg) -> None:
    """Delete a project (refused while it has live resources)."""
    delete_resource(PROJECT, project)


@quota_app.command("show")
@reports_errors
def show_quota(project: ProjectArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Show a project's limits and what it uses now (-1 means unlimited)."""
    with open_client() as client:
        project_id = resolve_id(client, PROJECT, project)
        quota = client.get(_quota_path(project_id))
    _print_quota(quota, project, fmt)


@quota_app.command("set")
@reports_errors
def set_quota(
    project: ProjectArg,
    limits: Annotated[
        list[str], typer.Argument(metavar="KEY=VALUE...", help="e.g. servers=20 ram_mb=-1")
    ],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Change some of a project's limits, keeping the others (-1 means unlimited)."""
    changes = _parse_limits(limits)
    with open_client() as client:
        project_id = resolve_id(client, PROJECT, project)
        path = _quota_path(project_id)
        # PUT replaces the limits, so send the current ones with the changes applied.
        merged = {**quota_limits(client.get(path)), **changes}
        answer = client.put(path, merged)
        quota = answer if isinstance(answer, dict) else client.get(path)
    _print_quota(quota, project, fmt)


@member_app.command("add")
@reports_errors
def add_member(
    project: ProjectArg,
    user: Annotated[str, typer.Argument(metavar="USER", help="The user's id or username.")],
    role: Annotated[Role, typer.Option("--role", help="member (read/write) or reader.")],
) -> None:
    """Give a user a role in a project (replacing any role they had there)."""
    with open_client() as client:
        project_id = resolve_id(client, PROJECT, project)
        user_id = resolve_id(client, USER, user)
        client.put(_member_path(project_id, user_id), {"role": role.value})
    typer.echo(f"{user} is now {role.value} in project {project}.")


@member_app.command("remove")
@reports_errors
def remove_member(
    project: ProjectArg,
    user: Annotated[str, typer.Argument(metavar="USER", help="The user's id or username.")],
) -> None:
    """Take a user out of a project."""
    with open_client() as client:
        project_id = resolve_id(client, PROJECT, project)
        user_id = resolve_id(client, USER, user)
        client.delete(_member_path(project_id, user_id))
    typer.echo(f"{user} is no longer in project {project}.")


def quota_limits(quota: Any) -> dict[str, int]:
    """The limits of a quota body, whichever of two shapes it has.

    API.md lists the limit keys and says GET "also gives ``in_use``" without fixing the layout:
    limits are read from a ``limits`` object when there is one, else from the top level's
    integer fields.
    """
    if not isinstance(quota, dict):
        return {}
    nested = quota.get("limits")
    source: dict[str, Any] = nested if isinstance(nested, dict) else quota
    return {
        key: value
        for key, value in source.items()
        if isinstance(value, int) and not isinstance(value, bool)
    }


def _print_quota(quota: Any, project: str, fmt: OutputFormat) -> None:
    if fmt is OutputFormat.json or not isinstance(quota, dict):
        print_json(quota)
        return
    in_use = quota.get("in_use")
    used: dict[str, Any] = in_use if isinstance(in_use, dict) else {}
    rows = [
        (key, "unlimited" if limit == -1 else limit, used.get(key))
        for key, limit in quota_limits(quota).items()
    ]
    print_rows(["Resource", "Limit", "In use"], rows, title=f"Quota of project {project}")


def _parse_limits(words: list[str]) -> dict[str, int]:
    limits: dict[str, int] = {}
    for word in words:
        key, sep, value = word.partition("=")
        try:
            number = int(value)
        except ValueError:
            number = None
        if not sep or not key or number is None or number < -1:
            raise typer.BadParameter(
                f"{word!r} is not KEY=INTEGER (an integer of -1 or more)", param_hint="KEY=VALUE"
            )
        limits[key] = number
    return limits


def _quota_path(project_id: str) -> str:
    return f"{PROJECT.item_path(project_id)}/quotas"


def _member_path(project_id: str, user_id: str) -> str:
    return f"{PROJECT.item_path(project_id)}/members/{user_id}"

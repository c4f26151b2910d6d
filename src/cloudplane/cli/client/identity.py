"""Who you are: ``login``, ``logout``, ``whoami``, ``cloudplane user …`` and ``api-key …``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cloudplane.cli.client.api import API
from cloudplane.cli.client.credentials import (
    URL_ENV,
    credentials_path,
    delete_credentials,
    login,
    open_client,
)
from cloudplane.cli.client.lookup import USER, Kind
from cloudplane.cli.client.output import (
    Column,
    FormatOption,
    OutputFormat,
    print_note,
    print_resource,
    reports_errors,
)
from cloudplane.cli.client.resource_commands import delete_resource, list_resources

user_app = typer.Typer(help="User accounts (admin).", no_args_is_help=True)
api_key_app = typer.Typer(help="Your API keys.", no_args_is_help=True)

API_KEY = Kind("API key", f"{API}/api-keys")
LimitOption = Annotated[int | None, typer.Option(min=1, help="At most this many (default: all).")]
UserArg = Annotated[str, typer.Argument(metavar="ID_OR_USERNAME", help="The user's id or name.")]

USER_COLUMNS = [
    Column("ID", "id"),
    Column("Username", "username"),
    Column("Email", "email"),
    Column("Admin", "is_admin"),
    Column("Created", "created_at"),
]
API_KEY_COLUMNS = [
    Column("ID", "id"),
    Column("Name", "name"),
    Column("Project", "project_id"),
    Column("Created", "created_at"),
    Column("Expires", "expires_at"),
]
# API.md does not name the field that carries a new key's secret; these are the likely ones.
SECRET_FIELDS = ("secret", "key", "api_key", "token")


@reports_errors
def login_command(
    username: Annotated[str, typer.Option(prompt=True, help="Your username.")],
    password: Annotated[
        str | None, typer.Option(help="Your password (asked for, hidden, if left out).")
    ] = None,
    url: Annotated[
        str | None, typer.Option(envvar=URL_ENV, help="The server, e.g. https://cloud.example.")
    ] = None,
    project: Annotated[
        str | None, typer.Option(help="Project id to scope the token to (default: your first).")
    ] = None,
) -> None:
    """Log in and store the token pair for later commands."""
    if not url:
        raise typer.BadParameter(f"give --url or set {URL_ENV}", param_hint="--url")
    if password is None:
        password = typer.prompt("Password", hide_input=True)
    credentials = login(url, username, password, project)
    project_note = f" in project {credentials.project_id}" if credentials.project_id else ""
    expiry_note = (
        f"; the token expires at {credentials.expires_at}" if credentials.expires_at else ""
    )
    typer.echo(f"Logged in to {credentials.url} as {username}{project_note}{expiry_note}.")


def logout_command() -> None:
    """Forget the stored login."""
    if delete_credentials():
        typer.echo(f"Logged out (removed {credentials_path()}).")
    else:
        typer.echo("Not logged in.")


@reports_errors
def whoami_command(fmt: FormatOption = OutputFormat.table) -> None:
    """Show the user, project and roles behind the current token."""
    with open_client() as client:
        print_resource(client.get(f"{API}/auth/whoami"), fmt)


@user_app.command("list")
@reports_errors
def list_users(limit: LimitOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List users."""
    list_resources(USER, USER_COLUMNS, fmt, limit=limit)


@user_app.command("create")
@reports_errors
def create_user(
    username: Annotated[str, typer.Argument(help="The new user's login name.")],
    password: Annotated[
        str | None, typer.Option(help="Their password (asked for, hidden, if left out).")
    ] = None,
    email: Annotated[str | None, typer.Option(help="Their email address.")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make them a global admin.")] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Create a user."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    body: dict[str, Any] = {"username": username, "password": password}
    if email is not None:
        body["email"] = email
    if admin:
        body["is_admin"] = True
    with open_client() as client:
        print_resource(client.create(USER.path, body).resource, fmt)


@user_app.command("delete")
@reports_errors
def delete_user(user: UserArg) -> None:
    """Delete a user."""
    delete_resource(USER, user)


@api_key_app.command("list")
@reports_errors
def list_api_keys(limit: LimitOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List your API keys (their secrets are never shown again)."""
    list_resources(API_KEY, API_KEY_COLUMNS, fmt, limit=limit)


@api_key_app.command("create")
@reports_errors
def create_api_key(
    name: Annotated[str, typer.Argument(help="A name to recognise the key by.")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Create an API key; its secret is printed this once only."""
    with open_client() as client:
        key = client.create(API_KEY.path, {"name": name}).resource
    print_resource(key, fmt)
    secret_field = next((field for field in SECRET_FIELDS if key.get(field)), "secret")
    print_note(
        f"Warning: store the {secret_field} now. It will not be shown again; "
        "use it as CLOUDPLANE_TOKEN or as `Authorization: Bearer <key>`."
    )


@api_key_app.command("delete")
@reports_errors
def delete_api_key(
    api_key: Annotated[str, typer.Argument(metavar="ID", help="The key's id (or name).")],
) -> None:
    """Delete (revoke) one of your API keys."""
    delete_resource(API_KEY, api_key)

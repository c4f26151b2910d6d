"""``cloudplane server …``: list, show, create, act on and delete virtual machines."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Any

import typer

from cloudplane.cli.client.api import API
from cloudplane.cli.client.credentials import open_client
from cloudplane.cli.client.lookup import FLAVOR, SERVER, resolve_id
from cloudplane.cli.client.output import (
    Column,
    FormatOption,
    OutputFormat,
    print_resource,
    reports_errors,
)
from cloudplane.cli.client.resource_commands import (
    delete_and_follow,
    list_resources,
    rename_resource,
    show_resource,
)
from cloudplane.cli.client.server_boot_and_networks import (
    BootAndNetworks,
    BootVolumeOption,
    BootVolumeSizeOption,
    ImageOption,
    NetworkOption,
    NoNetworkOption,
    PortOption,
    SecurityGroupOption,
)
from cloudplane.cli.client.waiting import TimeoutOption, WaitOption, finish

server_app = typer.Typer(help="Virtual machines.", no_args_is_help=True)

ServerArg = Annotated[str, typer.Argument(metavar="ID_OR_NAME", help="The server's id or name.")]
DEFAULT_TIMEOUT_S = 300.0


def _addresses(server: dict[str, Any]) -> str:
    fixed = [entry.get("ip") for entry in server.get("addresses") or [] if isinstance(entry, dict)]
    floating = [
        entry.get("ip") for entry in server.get("floating_ips") or [] if isinstance(entry, dict)
    ]
    return ", ".join(str(ip) for ip in [*fixed, *floating] if ip)


SERVER_COLUMNS = [
    Column("ID", "id"),
    Column("Name", "name"),
    Column("Status", "status"),
    Column("Task", "task_state"),
    Column("Power", "power_state"),
    Column("Addresses", _addresses),
    Column("Created", "created_at"),
]


@server_app.command("list")
@reports_errors
def list_servers(
    all_projects: Annotated[
        bool, typer.Option("--all-projects", help="Every project's servers (admin).")
    ] = False,
    status: Annotated[str | None, typer.Option(help="Only servers in this status.")] = None,
    name_prefix: Annotated[
        str | None, typer.Option(help="Only servers whose name starts with this.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="At most this many servers (default: all).")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List servers."""
    params: dict[str, str | int | bool | None] = {
        # Server statuses are upper case in the API; accept them typed either way.
        "status": status.upper() if status else None,
        "name_prefix": name_prefix,
    }
    list_resources(
        SERVER, SERVER_COLUMNS, fmt, params=params, limit=limit, all_projects=all_projects
    )


@server_app.command("show")
@reports_errors
def show_server(server: ServerArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Show one server."""
    show_resource(SERVER, server, fmt)


@server_app.command("create")
@reports_errors
def create_server(
    name: Annotated[str, typer.Argument(help="Name of the new server.")],
    flavor: Annotated[str, typer.Option("--flavor", help="Flavor id or name.")],
    image: ImageOption = None,
    boot_volume_size: BootVolumeSizeOption = None,
    boot_volume: BootVolumeOption = None,
    networks: NetworkOption = None,
    ports: PortOption = None,
    no_network: NoNetworkOption = False,
    security_groups: SecurityGroupOption = None,
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
    metadata: Annotated[
        list[str] | None,
        typer.Option("--metadata", "-m", metavar="KEY=VALUE", help="Repeat for several."),
    ] = None,
    user_data_file: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, readable=True, help="cloud-init user data."),
    ] = None,
    wait: WaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Create a server from a flavor and an image or a volume, on the networks asked for."""
    boot_and_networks = BootAndNetworks.from_options(
        image=image,
        boot_volume=boot_volume,
        boot_volume_size=boot_volume_size,
        networks=networks,
        ports=ports,
        no_network=no_network,
        security_groups=security_groups,
    )
    body: dict[str, Any] = {"name": name}
    if description is not None:
        body["description"] = description
    if metadata:
        body["metadata"] = parse_pairs(metadata, option="--metadata")
    if user_data_file is not None:
        body["user_data"] = _read_user_data(user_data_file)
    with open_client() as client:
        body["flavor_id"] = resolve_id(client, FLAVOR, flavor)
        body.update(boot_and_networks.request_fields(client))
        accepted = client.create(SERVER.path, body)
        finish(
            client,
            accepted,
            kind=SERVER,
            resource_id=None,
            wanted={"ACTIVE"},
            wait=wait,
            timeout_s=timeout,
            fmt=fmt,
        )


def _register_action(action: str, settled: str, summary: str) -> None:
    """Add ``server <action>``: a body-less ``POST /servers/{id}/<action>`` that answers 202."""

    @server_app.command(action, help=summary)
    @reports_errors
    def command(
        server: ServerArg,
        wait: WaitOption = False,
        timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
        fmt: FormatOption = OutputFormat.table,
    ) -> None:
        _act(server, action, None, settled=settled, wait=wait, timeout_s=timeout, fmt=fmt)


_register_action("start", "ACTIVE", "Power a stopped server on.")
_register_action("stop", "SHUTOFF", "Power a server off.")
_register_action("pause", "PAUSED", "Pause a running server.")
_register_action("resume", "ACTIVE", "Resume a paused server.")


@server_app.command("reboot")
@reports_errors
def reboot_server(
    server: ServerArg,
    hard: Annotated[bool, typer.Option("--hard", help="Power-cycle instead of asking.")] = False,
    wait: WaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Reboot a server (soft unless --hard)."""
    body = {"type": "hard" if hard else "soft"}
    _act(server, "reboot", body, settled="ACTIVE", wait=wait, timeout_s=timeout, fmt=fmt)


@server_app.command("rename")
@reports_errors
def rename_server(
    server: ServerArg,
    new_name: Annotated[str, typer.Argument(help="The new name.")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Give a server a new name."""
    rename_resource(SERVER, server, new_name, fmt)


class ResetStatus(enum.StrEnum):
    ACTIVE = "ACTIVE"
    SHUTOFF = "SHUTOFF"
    ERROR = "ERROR"


@server_app.command("reset-state")
@reports_errors
def reset_server_state(
    server: ServerArg,
    status: Annotated[
        ResetStatus,
        typer.Option(help="The status to record; the next reconcile reads the power state again."),
    ] = ResetStatus.ERROR,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Admins: record a status and clear the task in flight, without asking the hypervisor
    (for a server a failure left held or stuck)."""
    with open_client() as client:
        server_id = resolve_id(client, SERVER, server)
        reset = client.post(f"{API}/servers/{server_id}/reset-state", {"status": status.value})
        print_resource(reset, fmt)


@server_app.command("delete")
@reports_errors
def delete_server(
    server: ServerArg,
    wait: WaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Delete a server (from any state)."""
    delete_and_follow(SERVER, server, wait=wait, timeout_s=timeout, fmt=fmt)


def _act(
    server: str,
    action: str,
    body: dict[str, Any] | None,
    *,
    settled: str,
    wait: bool,
    timeout_s: float,
    fmt: OutputFormat,
) -> None:
    with open_client() as client:
        server_id = resolve_id(client, SERVER, server)
        accepted = client.act("POST", f"{API}/servers/{server_id}/{action}", body)
        finish(
            client,
            accepted,
            kind=SERVER,
            resource_id=server_id,
            wanted={settled},
            wait=wait,
            timeout_s=timeout_s,
            fmt=fmt,
        )


def parse_pairs(pairs: list[str], *, option: str) -> dict[str, str]:
    """Parse ``KEY=VALUE`` words into a dict; a word without ``=`` or key is a usage error."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint=option)
        parsed[key.strip()] = value
    return parsed


def _read_user_data(path: Path) -> str:
    # API.md types user_data as a string and says nothing of an encoding: send the text itself.
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise typer.BadParameter(
            f"{path} is not UTF-8 text", param_hint="--user-data-file"
        ) from exc

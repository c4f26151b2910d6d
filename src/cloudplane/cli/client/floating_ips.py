"""``cloudplane floating-ip …``: public addresses mapped onto a server's or a port's address."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cloudplane.cli.client.credentials import open_client
from cloudplane.cli.client.lookup import FLOATING_IP, NETWORK, PORT, SERVER, resolve_id
from cloudplane.cli.client.output import (
    Column,
    FormatOption,
    OutputFormat,
    print_resource,
    reports_errors,
)
from cloudplane.cli.client.resource_commands import delete_resource, list_resources, show_resource
from cloudplane.cli.client.waiting import TimeoutOption, WaitOption, finish

floating_ip_app = typer.Typer(
    help="Floating IPs: addresses from an external network.", no_args_is_help=True
)

FloatingIpArg = Annotated[
    str, typer.Argument(metavar="FLOATING_IP", help="The floating IP's id or address.")
]
LimitOption = Annotated[int | None, typer.Option(min=1, help="At most this many (default: all).")]
DEFAULT_TIMEOUT_S = 120.0

FLOATING_IP_COLUMNS = [
    Column("ID", "id"),
    Column("IP", "ip"),
    Column("Status", "status"),
    Column("Fixed IP", "fixed_ip"),
    Column("Server", "server_id"),
    Column("Port", "port_id"),
    Column("Network", "network_id"),
    Column("Description", "description"),
]


@floating_ip_app.command("list")
@reports_errors
def list_floating_ips(
    all_projects: Annotated[
        bool, typer.Option("--all-projects", help="Every project's floating IPs (admin).")
    ] = False,
    status: Annotated[
        str | None, typer.Option(help="Only floating IPs in this status (DOWN, ACTIVE, ERROR).")
    ] = None,
    limit: LimitOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List floating IPs."""
    list_resources(
        FLOATING_IP,
        FLOATING_IP_COLUMNS,
        fmt,
        params={"status": status.upper() if status else None},
        limit=limit,
        all_projects=all_projects,
    )


@floating_ip_app.command("show")
@reports_errors
def show_floating_ip(floating_ip: FloatingIpArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Show one floating IP."""
    show_resource(FLOATING_IP, floating_ip, fmt)


@floating_ip_app.command("create")
@reports_errors
def create_floating_ip(
    network: Annotated[
        str | None,
        typer.Option(
            metavar="EXTERNAL_NET",
            help="External network id or name to take it from (default: the oldest one).",
        ),
    ] = None,
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Allocate a floating IP to the project."""
    body: dict[str, Any] = {}
    if description is not None:
        body["description"] = description
    with open_client() as client:
        if network is not None:
            body["network_id"] = resolve_id(client, NETWORK, network)
        print_resource(client.create(FLOATING_IP.path, body).resource, fmt)


@floating_ip_app.command("associate")
@reports_errors
def associate_floating_ip(
    floating_ip: FloatingIpArg,
    server: Annotated[
        str | None, typer.Option(help="Server id or name (its first port gets it).")
    ] = None,
    port: Annotated[str | None, typer.Option(help="Port id or name.")] = None,
    wait: WaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Map a floating IP onto a server or a port (give exactly one of --server and --port)."""
    if server is not None and port is None:
        target_kind, field, target = SERVER, "server_id", server
    elif port is not None and server is None:
        target_kind, field, target = PORT, "port_id", port
    else:
        raise typer.BadParameter("give exactly one of --server and --port", param_hint="--server")
    with open_client() as client:
        floating_ip_id = resolve_id(client, FLOATING_IP, floating_ip)
        body = {field: resolve_id(client, target_kind, target)}
        accepted = client.act("POST", f"{FLOATING_IP.item_path(floating_ip_id)}/associate", body)
        finish(
            client,
            accepted,
            kind=FLOATING_IP,
            resource_id=floating_ip_id,
            wanted={"ACTIVE"},
            wait=wait,
            timeout_s=timeout,
            fmt=fmt,
        )


@floating_ip_app.command("disassociate")
@reports_errors
def disassociate_floating_ip(
    floating_ip: FloatingIpArg,
    wait: WaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Remove a floating IP's mapping; it stays allocated to the project."""
    with open_client() as client:
        floating_ip_id = resolve_id(client, FLOATING_IP, floating_ip)
        path = f"{FLOATING_IP.item_path(floating_ip_id)}/disassociate"
        accepted = client.act("POST", path)
        finish(
            client,
            accepted,
            kind=FLOATING_IP,
            resource_id=floating_ip_id,
            wanted={"DOWN"},
            wait=wait,
            timeout_s=timeout,
            fmt=fmt,
        )


@floating_ip_app.command("delete")
@reports_errors
def delete_floating_ip(floating_ip: FloatingIpArg) -> None:
    """Release a floating IP (disassociating it first)."""
    delete_resource(FLOATING_IP, floating_ip, done="Released")

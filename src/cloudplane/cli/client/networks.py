"""``cloudplane network …`` and ``port …``: virtual networks and the interfaces on them."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cloudplane.cli.client.addresses import allocation_pool, ip_text
from cloudplane.cli.client.credentials import open_client
from cloudplane.cli.client.lookup import NETWORK, PORT, SERVER, resolve_id
from cloudplane.cli.client.output import (
    Column,
    FormatOption,
    OutputFormat,
    print_resource,
    reports_errors,
)
from cloudplane.cli.client.resource_commands import (
    create_and_follow,
    delete_resource,
    list_resources,
    rename_resource,
    show_resource,
)
from cloudplane.cli.client.waiting import TimeoutOption

network_app = typer.Typer(help="Virtual networks.", no_args_is_help=True)
port_app = typer.Typer(help="Network ports (a server's interfaces).", no_args_is_help=True)

NetworkArg = Annotated[str, typer.Argument(metavar="NETWORK", help="The network's id or name.")]
PortArg = Annotated[str, typer.Argument(metavar="PORT", help="The port's id or name.")]
LimitOption = Annotated[int | None, typer.Option(min=1, help="At most this many (default: all).")]
DEFAULT_TIMEOUT_S = 120.0


def _pools(network: dict[str, Any]) -> str:
    pools = network.get("allocation_pools") or []
    return ", ".join(
        f"{pool.get('start')}-{pool.get('end')}" for pool in pools if isinstance(pool, dict)
    )


NETWORK_COLUMNS = [
    Column("ID", "id"),
    Column("Name", "name"),
    Column("CIDR", "cidr"),
    Column("Gateway", "gateway_ip"),
    Column("Pools", _pools),
    Column("External", "external"),
    Column("Shared", "shared"),
    Column("Status", "status"),
]
PORT_COLUMNS = [
    Column("ID", "id"),
    Column("Name", "name"),
    Column("Network", "network_id"),
    Column("Fixed IPs", "fixed_ips"),
    Column("MAC", "mac"),
    Column("Server", "device_id"),
    Column("Status", "status"),
]


@network_app.command("list")
@reports_errors
def list_networks(
    all_projects: Annotated[
        bool, typer.Option("--all-projects", help="Every project's networks (admin).")
    ] = False,
    name_prefix: Annotated[
        str | None, typer.Option(help="Only networks whose name starts with this.")
    ] = None,
    limit: LimitOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List the project's networks and every shared and external one."""
    params: dict[str, str | int | bool | None] = {
        "name_prefix": name_prefix,
    }
    list_resources(
        NETWORK, NETWORK_COLUMNS, fmt, params=params, limit=limit, all_projects=all_projects
    )


@network_app.command("show")
@reports_errors
def show_network(network: NetworkArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Show one network."""
    show_resource(NETWORK, network, fmt)


@network_app.command("create")
@reports_errors
def create_network(
    name: Annotated[str, typer.Argument(help="Name of the new network.")],
    cidr: Annotated[str, typer.Option("--cidr", help="The subnet, e.g. 10.0.0.0/24.")],
    gateway: Annotated[
        str | None, typer.Option(metavar="IP", help="Gateway address (default: the first host).")
    ] = None,
    pools: Annotated[
        list[str] | None,
        typer.Option(
            "--pool",
            metavar="START-END",
            help="An address range to allocate from; repeat for several (default: all hosts).",
        ),
    ] = None,
    shared: Annotated[
        bool, typer.Option("--shared", help="Usable by every project (admin).")
    ] = False,
    external: Annotated[
        bool, typer.Option("--external", help="A floating-IP pool (admin).")
    ] = False,
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait until the network is ACTIVE, then show it.")
    ] = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Create a network (BUILD until the backend has it, then ACTIVE)."""
    body: dict[str, Any] = {"name": name, "cidr": cidr}
    if gateway is not None:
        body["gateway_ip"] = ip_text(gateway, option="--gateway")
    if pools:
        body["allocation_pools"] = [allocation_pool(text) for text in pools]
    # Sent only when asked for: they are admin-only, even set to false.
    if shared:
        body["shared"] = True
    if external:
        body["external"] = True
    if description is not None:
        body["description"] = description
    create_and_follow(NETWORK, body, wanted={"ACTIVE"}, wait=wait, timeout_s=timeout, fmt=fmt)


@network_app.command("rename")
@reports_errors
def rename_network(
    network: NetworkArg,
    new_name: Annotated[str, typer.Argument(help="The new name.")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Give a network a new name."""
    rename_resource(NETWORK, network, new_name, fmt)


@network_app.command("delete")
@reports_errors
def delete_network(network: NetworkArg) -> None:
    """Delete a network (refused while it has ports or floating IPs)."""
    delete_resource(NETWORK, network)


@port_app.command("list")
@reports_errors
def list_ports(
    network: Annotated[
        str | None, typer.Option(help="Only ports on this network (id or name).")
    ] = None,
    server: Annotated[
        str | None, typer.Option(help="Only ports bound to this server (id or name).")
    ] = None,
    limit: LimitOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List ports."""
    list_resources(
        PORT,
        PORT_COLUMNS,
        fmt,
        lookups={"device_id": (SERVER, server), "network_id": (NETWORK, network)},
        limit=limit,
    )


@port_app.command("show")
@reports_errors
def show_port(port: PortArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Show one port."""
    show_resource(PORT, port, fmt)


@port_app.command("create")
@reports_errors
def create_port(
    network: Annotated[str, typer.Option("--network", help="Network id or name.")],
    fixed_ip: Annotated[
        str | None, typer.Option(metavar="IP", help="Address to take (default: a free one).")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Name of the new port.")] = None,
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Create an unbound port, to give to a server later (`server create --port`)."""
    body: dict[str, Any] = {}
    if fixed_ip is not None:
        body["fixed_ip"] = ip_text(fixed_ip, option="--fixed-ip")
    if name is not None:
        body["name"] = name
    if description is not None:
        body["description"] = description
    with open_client() as client:
        body = {"network_id": resolve_id(client, NETWORK, network), **body}
        print_resource(client.create(PORT.path, body).resource, fmt)


@port_app.command("delete")
@reports_errors
def delete_port(port: PortArg) -> None:
    """Delete a port (not one a server made for itself); its floating IPs are disassociated."""
    delete_resource(PORT, port)

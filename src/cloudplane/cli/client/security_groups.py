"""``cloudplane security-group …``: allow-rule sets applied to ports."""

from __future__ import annotations

import enum
from typing import Annotated, Any

import typer

from cloudplane.cli.client.api import API
from cloudplane.cli.client.credentials import open_client
from cloudplane.cli.client.lookup import SECURITY_GROUP, resolve_id
from cloudplane.cli.client.output import (
    Column,
    FormatOption,
    OutputFormat,
    print_resource,
    print_rows,
    reports_errors,
)
from cloudplane.cli.client.resource_commands import delete_resource, list_resources

security_group_app = typer.Typer(
    help="Security groups and their allow rules.", no_args_is_help=True
)

GroupArg = Annotated[str, typer.Argument(metavar="GROUP", help="The group's id or name.")]
LimitOption = Annotated[int | None, typer.Option(min=1, help="At most this many (default: all).")]
PortOption = Annotated[int | None, typer.Option(min=1, max=65535, help="tcp/udp only.")]
RULES = f"{API}/security-group-rules"

SECURITY_GROUP_COLUMNS = [
    Column("ID", "id"),
    Column("Name", "name"),
    Column("Rules", lambda group: len(group.get("rules") or [])),
    Column("Description", "description"),
]
RULE_HEADERS = ["ID", "Direction", "Protocol", "Ports", "Remote", "Ethertype"]


class RuleDirection(enum.StrEnum):
    """Which traffic a rule allows: arriving at the port or leaving it."""

    ingress = "ingress"
    egress = "egress"


class RuleProtocol(enum.StrEnum):
    """Protocols a rule can allow."""

    tcp = "tcp"
    udp = "udp"
    icmp = "icmp"
    any = "any"


@security_group_app.command("list")
@reports_errors
def list_security_groups(limit: LimitOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List security groups."""
    list_resources(SECURITY_GROUP, SECURITY_GROUP_COLUMNS, fmt, limit=limit)


@security_group_app.command("show")
@reports_errors
def show_security_group(group: GroupArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Show one security group; a table lists its rules below it."""
    with open_client() as client:
        shown = client.get(SECURITY_GROUP.item_path(resolve_id(client, SECURITY_GROUP, group)))
    if fmt is OutputFormat.json or not isinstance(shown, dict):
        print_resource(shown, fmt)
        return
    rules: Any = shown.get("rules")
    print_resource({key: value for key, value in shown.items() if key != "rules"}, fmt)
    if isinstance(rules, list) and rules:
        typer.echo()
        rows = [_rule_row(rule) for rule in rules if isinstance(rule, dict)]
        print_rows(RULE_HEADERS, rows, title="Rules")


@security_group_app.command("create")
@reports_errors
def create_security_group(
    name: Annotated[str, typer.Argument(help="Name of the new group.")],
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Create a security group (it allows nothing until rules are added)."""
    body: dict[str, Any] = {"name": name}
    if description is not None:
        body["description"] = description
    with open_client() as client:
        print_resource(client.create(SECURITY_GROUP.path, body).resource, fmt)


@security_group_app.command("delete")
@reports_errors
def delete_security_group(group: GroupArg) -> None:
    """Delete a security group that no port uses."""
    delete_resource(SECURITY_GROUP, group)


@security_group_app.command("rule-add")
@reports_errors
def add_rule(
    group: GroupArg,
    direction: Annotated[RuleDirection, typer.Option("--direction", help="ingress or egress.")],
    protocol: Annotated[RuleProtocol, typer.Option("--protocol", help="tcp, udp, icmp or any.")],
    port_min: PortOption = None,
    port_max: PortOption = None,
    remote_cidr: Annotated[
        str | None, typer.Option(metavar="CIDR", help="The peer's addresses (default: anyone).")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Add an allow rule to a security group (one port: give --port-min alone)."""
    body: dict[str, Any] = {"direction": direction.value, "protocol": protocol.value}
    for key, value in (
        ("port_min", port_min),
        ("port_max", port_max),
        ("remote_cidr", remote_cidr),
    ):
        if value is not None:
            body[key] = value
    with open_client() as client:
        group_id = resolve_id(client, SECURITY_GROUP, group)
        rule = client.create(f"{SECURITY_GROUP.item_path(group_id)}/rules", body).resource
    print_resource(rule, fmt)


@security_group_app.command("rule-delete")
@reports_errors
def delete_rule(
    rule_id: Annotated[str, typer.Argument(metavar="RULE_ID", help="The rule's id.")],
) -> None:
    """Delete a security group rule."""
    with open_client() as client:
        client.delete(f"{RULES}/{rule_id}")
    typer.echo(f"Deleted security group rule {rule_id}.")


def _rule_row(rule: dict[str, Any]) -> list[Any]:
    low, high = rule.get("port_min"), rule.get("port_max")
    ports = "" if low is None else str(low) if low == high else f"{low}-{high}"
    remote = rule.get("remote_cidr") or rule.get("remote_group_id") or "any"
    return [
        rule.get("id"),
        rule.get("direction"),
        rule.get("protocol"),
        ports,
        remote,
        rule.get("ethertype"),
    ]

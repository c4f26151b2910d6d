"""``cloudplane plan|trigger|schedule|checkpoint|restore|verification|protection-log …``:
data protection from the command line."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from cloudplane.cli.client.api import API, ApiClient
from cloudplane.cli.client.credentials import open_client
from cloudplane.cli.client.errors import ClientError
from cloudplane.cli.client.lookup import (
    CHECKPOINT,
    IMAGE,
    NETWORK,
    PLAN,
    PROJECT,
    RESTORE,
    SCHEDULED_OPERATION,
    SERVER,
    TRIGGER,
    VERIFICATION,
    VOLUME,
    Kind,
    resolve_id,
)
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
    show_resource,
)
from cloudplane.cli.client.waiting import TimeoutOption, WaitOption, finish

plan_app = typer.Typer(help="Protection plans: what to protect, and how.", no_args_is_help=True)
trigger_app = typer.Typer(help="Time triggers (crontab or RFC 5545 rules).", no_args_is_help=True)
schedule_app = typer.Typer(help="Scheduled protection operations.", no_args_is_help=True)
checkpoint_app = typer.Typer(help="Checkpoints: protected copies of a plan.", no_args_is_help=True)
restore_app = typer.Typer(help="Restores of checkpoints to new resources.", no_args_is_help=True)
verification_app = typer.Typer(help="Checksum checks of checkpoints.", no_args_is_help=True)
protection_log_app = typer.Typer(help="The protection operation log.", no_args_is_help=True)

DEFAULT_TIMEOUT_S = 600.0
PROVIDERS_PATH = f"{API}/protection/providers"
PROTECTION_LOG = Kind("protection log", f"{API}/protection/operation-logs")

PLAN_COLUMNS = [
    Column("ID", "id"),
    Column("Name", "name"),
    Column("Status", "status"),
    Column(
        "Resources", lambda item: ", ".join(f"{r['type']}:{r['name']}" for r in item["resources"])
    ),
    Column("Created", "created_at"),
]
TRIGGER_COLUMNS = [
    Column("ID", "id"),
    Column("Name", "name"),
    Column("Format", "properties.format"),
    Column("Pattern", "properties.pattern"),
    Column("Window (s)", "properties.window_s"),
]
SCHEDULE_COLUMNS = [
    Column("ID", "id"),
    Column("Name", "name"),
    Column("Type", "operation_type"),
    Column("Plan", "operation_definition.plan_id"),
    Column("Next run", "next_run_at"),
]
CHECKPOINT_COLUMNS = [
    Column("ID", "id"),
    Column("Plan", "plan_id"),
    Column("Status", "status"),
    Column("By", "created_by"),
    Column("Created", "created_at"),
]
RUN_COLUMNS = [
    Column("ID", "id"),
    Column("Checkpoint", "checkpoint_id"),
    Column("Status", "status"),
    Column("Created", "created_at"),
]
LOG_COLUMNS = [
    Column("Type", "operation_type"),
    Column("Status", "status"),
    Column("Checkpoint", "checkpoint_id"),
    Column("Scheduled for", "scheduled_for"),
    Column("Error", "error_info"),
    Column("At", "created_at"),
]

PlanArg = Annotated[str, typer.Argument(metavar="PLAN", help="The plan's id or name.")]
CheckpointArg = Annotated[str, typer.Argument(metavar="CHECKPOINT", help="The checkpoint's id.")]
LimitOption = Annotated[int | None, typer.Option(min=1, help="At most this many (default: all).")]


def provider_id(client: ApiClient, id_or_name: str) -> str:
    """The id of the provider with this id or name (``backup``, ``snapshot``)."""
    for provider in client.get(PROVIDERS_PATH)["items"]:
        if id_or_name in (provider["id"], provider["name"]):
            return str(provider["id"])
    raise ClientError("not_found", f"no protection provider is named {id_or_name!r}")


PROTECTABLE_KINDS = {
    "server": SERVER,
    "volume": VOLUME,
    "image": IMAGE,
    "network": NETWORK,
    "project": PROJECT,
}


def parse_resources(client: ApiClient, resources: list[str]) -> list[dict[str, str]]:
    """``TYPE:ID-OR-NAME`` pairs (``server:web-1``, ``volume:<id>``) as plan resources."""
    parsed = []
    for item in resources:
        kind, _, reference = item.partition(":")
        if kind not in PROTECTABLE_KINDS or not reference:
            known = "|".join(PROTECTABLE_KINDS)
            raise typer.BadParameter(f"{item!r} is not TYPE:ID-OR-NAME with TYPE {known}")
        resource_id = resolve_id(client, PROTECTABLE_KINDS[kind], reference)
        parsed.append({"type": kind, "id": resource_id})
    return parsed


# --- plans ------------------------------------------------------------------------------------


@plan_app.command("list")
@reports_errors
def list_plans(limit: LimitOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List protection plans."""
    list_resources(PLAN, PLAN_COLUMNS, fmt, limit=limit)


@plan_app.command("show")
@reports_errors
def show_plan(plan: PlanArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Show one plan."""
    show_resource(PLAN, plan, fmt)


@plan_app.command("create")
@reports_errors
def create_plan(
    name: Annotated[str, typer.Argument(help="Name of the new plan.")],
    resource: Annotated[
        list[str],
        typer.Option(
            "--resource", help="TYPE:ID-OR-NAME to protect (server:web-1); repeat for more."
        ),
    ],
    provider: Annotated[str, typer.Option(help="Provider name or id.")] = "backup",
    description: Annotated[str | None, typer.Option(help="Free text.")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Create a plan (suspended until started)."""
    body: dict[str, Any] = {"name": name}
    if description is not None:
        body["description"] = description
    with open_client() as client:
        body["resources"] = parse_resources(client, resource)
        body["provider_id"] = provider_id(client, provider)
        print_resource(client.post(PLAN.path, body), fmt)


@plan_app.command("start")
@reports_errors
def start_plan(plan: PlanArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Start a plan: its scheduled operations fire."""
    with open_client() as client:
        plan_id = resolve_id(client, PLAN, plan)
        print_resource(client.post(f"{PLAN.item_path(plan_id)}/start"), fmt)


@plan_app.command("suspend")
@reports_errors
def suspend_plan(plan: PlanArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Suspend a plan: its scheduled operations do not fire."""
    with open_client() as client:
        plan_id = resolve_id(client, PLAN, plan)
        print_resource(client.post(f"{PLAN.item_path(plan_id)}/suspend"), fmt)


@plan_app.command("delete")
@reports_errors
def delete_plan(plan: PlanArg) -> None:
    """Delete a plan no scheduled operation uses."""
    delete_resource(PLAN, plan)


# --- triggers ---------------------------------------------------------------------------------


@trigger_app.command("list")
@reports_errors
def list_triggers(limit: LimitOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List triggers."""
    list_resources(TRIGGER, TRIGGER_COLUMNS, fmt, limit=limit)


@trigger_app.command("create")
@reports_errors
def create_trigger(
    name: Annotated[str, typer.Argument(help="Name of the new trigger.")],
    pattern: Annotated[str, typer.Option(help="Crontab pattern, or an RRULE with --calendar.")],
    calendar: Annotated[bool, typer.Option("--calendar", help="PATTERN is an RRULE.")] = False,
    start_time: Annotated[str | None, typer.Option(help="RFC 3339; default: now.")] = None,
    end_time: Annotated[str | None, typer.Option(help="RFC 3339; default: never.")] = None,
    window_s: Annotated[int, typer.Option(min=0, help="How late a firing may run.")] = 300,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Create a time trigger."""
    properties: dict[str, Any] = {
        "format": "calendar" if calendar else "crontab",
        "pattern": pattern,
        "window_s": window_s,
    }
    if start_time is not None:
        properties["start_time"] = start_time
    if end_time is not None:
        properties["end_time"] = end_time
    with open_client() as client:
        print_resource(client.post(TRIGGER.path, {"name": name, "properties": properties}), fmt)


@trigger_app.command("delete")
@reports_errors
def delete_trigger(
    trigger: Annotated[str, typer.Argument(metavar="TRIGGER", help="Id or name.")],
) -> None:
    """Delete a trigger no scheduled operation uses."""
    delete_resource(TRIGGER, trigger)


# --- scheduled operations ---------------------------------------------------------------------


@schedule_app.command("list")
@reports_errors
def list_schedules(limit: LimitOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List scheduled operations."""
    list_resources(SCHEDULED_OPERATION, SCHEDULE_COLUMNS, fmt, limit=limit)


@schedule_app.command("create")
@reports_errors
def create_schedule(
    name: Annotated[str, typer.Argument(help="Name of the new scheduled operation.")],
    plan: Annotated[str, typer.Option(help="Plan id or name.")],
    trigger: Annotated[str, typer.Option(help="Trigger id or name.")],
    max_backups: Annotated[
        int | None, typer.Option(min=1, help="Keep at most this many (retention_protect).")
    ] = None,
    retention_days: Annotated[
        int | None, typer.Option(min=1, help="Delete older ones (retention_protect).")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Protect a plan whenever a trigger fires; a limit makes it a retention_protect."""
    retention = max_backups is not None or retention_days is not None
    with open_client() as client:
        definition: dict[str, Any] = {"plan_id": resolve_id(client, PLAN, plan)}
        if max_backups is not None:
            definition["max_backups"] = max_backups
        if retention_days is not None:
            definition["retention_days"] = retention_days
        body = {
            "name": name,
            "operation_type": "retention_protect" if retention else "protect",
            "trigger_id": resolve_id(client, TRIGGER, trigger),
            "operation_definition": definition,
        }
        print_resource(client.post(SCHEDULED_OPERATION.path, body), fmt)


@schedule_app.command("delete")
@reports_errors
def delete_schedule(
    schedule: Annotated[str, typer.Argument(metavar="SCHEDULE", help="Id or name.")],
) -> None:
    """Delete a scheduled operation."""
    delete_resource(SCHEDULED_OPERATION, schedule)


# --- checkpoints, restores, verifications ----------------------------------------------------


@checkpoint_app.command("list")
@reports_errors
def list_checkpoints(
    plan: Annotated[str | None, typer.Option(help="Only this plan's (id or name).")] = None,
    limit: LimitOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List checkpoints."""
    list_resources(
        CHECKPOINT, CHECKPOINT_COLUMNS, fmt, lookups={"plan_id": (PLAN, plan)}, limit=limit
    )


@checkpoint_app.command("show")
@reports_errors
def show_checkpoint(checkpoint: CheckpointArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Show one checkpoint with its resources."""
    show_resource(CHECKPOINT, checkpoint, fmt)


@checkpoint_app.command("create")
@reports_errors
def create_checkpoint(
    plan: PlanArg,
    wait: WaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Protect a plan now."""
    create_and_follow(
        CHECKPOINT,
        {},
        lookups={"plan_id": (PLAN, plan)},
        wanted={"available", "error"},
        wait=wait,
        timeout_s=timeout,
        fmt=fmt,
    )


@checkpoint_app.command("delete")
@reports_errors
def delete_checkpoint(checkpoint: CheckpointArg, fmt: FormatOption = OutputFormat.table) -> None:
    """Delete a checkpoint and its stored data."""
    with open_client() as client:
        accepted = client.act("DELETE", CHECKPOINT.item_path(checkpoint))
        finish(
            client,
            accepted,
            kind=CHECKPOINT,
            resource_id=checkpoint,
            wanted={"deleted"},
            wait=False,
            timeout_s=0,
            fmt=fmt,
        )


@restore_app.command("list")
@reports_errors
def list_restores(limit: LimitOption = None, fmt: FormatOption = OutputFormat.table) -> None:
    """List restores."""
    list_resources(RESTORE, RUN_COLUMNS, fmt, limit=limit)


@restore_app.command("show")
@reports_errors
def show_restore(
    restore: Annotated[str, typer.Argument(metavar="RESTORE", help="The restore's id.")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show one restore with the status of each resource."""
    show_resource(RESTORE, restore, fmt)


@restore_app.command("create")
@reports_errors
def create_restore(
    checkpoint: CheckpointArg,
    name_prefix: Annotated[str | None, typer.Option(help="Before restored names.")] = None,
    network: Annotated[str | None, typer.Option(help="Network id for restored servers.")] = None,
    in_place: Annotated[
        bool,
        typer.Option(
            "--in-place",
            help="Write the saved data back into the protected volumes instead (each detached "
            "or on a stopped server).",
        ),
    ] = False,
    wait: WaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Restore a checkpoint to new resources, or in place."""
    parameters: dict[str, Any] = {}
    if name_prefix is not None:
        parameters["name_prefix"] = name_prefix
    if network is not None:
        parameters["network_id"] = network
    create_and_follow(
        RESTORE,
        {
            "checkpoint_id": checkpoint,
            "target": "in_place" if in_place else "new",
            "parameters": parameters,
        },
        wanted={"success", "fail"},
        wait=wait,
        timeout_s=timeout,
        fmt=fmt,
    )


@verification_app.command("create")
@reports_errors
def create_verification(
    checkpoint: CheckpointArg,
    wait: WaitOption = False,
    timeout: TimeoutOption = DEFAULT_TIMEOUT_S,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Recompute a checkpoint's checksums."""
    create_and_follow(
        VERIFICATION,
        {"checkpoint_id": checkpoint},
        wanted={"success", "fail"},
        wait=wait,
        timeout_s=timeout,
        fmt=fmt,
    )


@verification_app.command("show")
@reports_errors
def show_verification(
    verification: Annotated[str, typer.Argument(metavar="VERIFICATION", help="Its id.")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show one verification with the status of each resource."""
    show_resource(VERIFICATION, verification, fmt)


@protection_log_app.command("list")
@reports_errors
def list_logs(
    checkpoint: Annotated[str | None, typer.Option(help="Only this checkpoint's.")] = None,
    status: Annotated[str | None, typer.Option(help="running|success|fail|dropped")] = None,
    limit: LimitOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List protection operation logs, newest first."""
    params = {"checkpoint_id": checkpoint, "status": status}
    list_resources(PROTECTION_LOG, LOG_COLUMNS, fmt, params=params, limit=limit)

"""The client half of the ``cloudplane`` command: commands that talk to a server's HTTP API.

The root command (``serve``, ``migrate``, ``worker``, ``admin …``) lives elsewhere and calls
:func:`register_client_commands` to add these.
"""

from __future__ import annotations

import typer

from cloudplane.cli.client.catalogue import flavor_app, image_app
from cloudplane.cli.client.floating_ips import floating_ip_app
from cloudplane.cli.client.identity import (
    api_key_app,
    login_command,
    logout_command,
    user_app,
    whoami_command,
)
from cloudplane.cli.client.networks import network_app, port_app
from cloudplane.cli.client.operations import audit_app, operation_app
from cloudplane.cli.client.projects import member_app, project_app, quota_app
from cloudplane.cli.client.protection import (
    checkpoint_app,
    plan_app,
    protection_log_app,
    restore_app,
    schedule_app,
    trigger_app,
    verification_app,
)
from cloudplane.cli.client.security_groups import security_group_app
from cloudplane.cli.client.servers import server_app
from cloudplane.cli.client.snapshots import snapshot_app
from cloudplane.cli.client.storage_pools import storage_pool_app, volume_type_app
from cloudplane.cli.client.volumes import volume_app

__all__ = ["register_client_commands"]


def register_client_commands(app: typer.Typer) -> None:
    """Add ``login``, ``logout``, ``whoami`` and the resource groups to the root ``app``.

    Groups: ``server``, ``flavor``, ``image``, ``volume``, ``snapshot``, ``storage-pool``,
    ``volume-type``, ``network``, ``port``, ``floating-ip``, ``security-group``, ``project``,
    ``quota``, ``user``, ``member``, ``api-key``, ``operation``, ``audit``, and data protection's
    ``plan``, ``trigger``, ``schedule``, ``checkpoint``, ``restore``, ``verification``,
    ``protection-log``. Call once per root app.
    """
    app.command("login")(login_command)
    app.command("logout")(logout_command)
    app.command("whoami")(whoami_command)
    app.add_typer(server_app, name="server")
    app.add_typer(flavor_app, name="flavor")
    app.add_typer(image_app, name="image")
    app.add_typer(volume_app, name="volume")
    app.add_typer(snapshot_app, name="snapshot")
    app.add_typer(storage_pool_app, name="storage-pool")
    app.add_typer(volume_type_app, name="volume-type")
    app.add_typer(network_app, name="network")
    app.add_typer(port_app, name="port")
    app.add_typer(floating_ip_app, name="floating-ip")
    app.add_typer(security_group_app, name="security-group")
    app.add_typer(project_app, name="project")
    app.add_typer(quota_app, name="quota")
    app.add_typer(user_app, name="user")
    app.add_typer(member_app, name="member")
    app.add_typer(api_key_app, name="api-key")
    app.add_typer(operation_app, name="operation")
    app.add_typer(audit_app, name="audit")
    app.add_typer(plan_app, name="plan")
    app.add_typer(trigger_app, name="trigger")
    app.add_typer(schedule_app, name="schedule")
    app.add_typer(checkpoint_app, name="checkpoint")
    app.add_typer(restore_app, name="restore")
    app.add_typer(verification_app, name="verification")
    app.add_typer(protection_log_app, name="protection-log")

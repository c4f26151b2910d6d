"""The ``cloudplane`` command: run the service, migrate, work, administer, and act as a client."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer

from cloudplane.cli.admin import admin_app
from cloudplane.cli.client import register_client_commands
from cloudplane.settings import Settings

app = typer.Typer(
    name="cloudplane",
    help="A self-hosted cloud control plane: run the service, or talk to one.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(admin_app, name="admin", help="Administer users and projects in the database.")
register_client_commands(app)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Overrides CLOUDPLANE_HOST.")] = None,
    port: Annotated[int | None, typer.Option(help="Overrides CLOUDPLANE_PORT.")] = None,
    workers: Annotated[int, typer.Option(help="API processes to run.")] = 1,
) -> None:
    """Run the API (and, in the embedded form, the worker and scheduler) until stopped."""
    settings = Settings()
    if workers > 1 and not settings.broker_url:
        raise typer.BadParameter(
            "several API processes need a shared broker: set CLOUDPLANE_BROKER_URL",
            param_hint="--workers",
        )
    import uvicorn

    from cloudplane.kit.logging import configure_logging

    configure_logging(settings.log_level, json=settings.log_json)
    asyncio.run(_prepare(settings))
    # The database is ready now; the API processes must not race to migrate it again.
    os.environ["CLOUDPLANE_AUTO_MIGRATE"] = "false"
    uvicorn.run(
        "cloudplane.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        # Event streams never end by themselves; don't let them hold a shutdown for long.
        timeout_graceful_shutdown=5,
    )


@app.command()
def migrate() -> None:
    """Bring the database schema to the newest revision and seed an empty database."""
    asyncio.run(_prepare(Settings()))
    typer.echo("database is up to date")


@app.command()
def worker() -> None:
    """Consume operations from RabbitMQ and run the periodic jobs (needs CLOUDPLANE_BROKER_URL)."""
    settings = Settings()
    if not settings.broker_url:
        raise typer.BadParameter(
            "the embedded form runs its worker inside `cloudplane serve`; "
            "set CLOUDPLANE_BROKER_URL to run separate workers"
        )
    from cloudplane.worker import run_worker

    asyncio.run(run_worker(settings))


async def _prepare(settings: Settings) -> None:
    from cloudplane.bootstrap import build_runtime, close_runtime
    from cloudplane.seed import prepare_database

    settings = settings.model_copy(update={"auto_migrate": True})
    runtime = await build_runtime(settings)
    try:
        await prepare_database(runtime)
    finally:
        await close_runtime(runtime)


def main() -> None:
    # SIGPIPE stays ignored (Python's default): `serve` must survive clients that hang up.
    app()

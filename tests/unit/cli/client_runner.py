"""Running ``cloudplane`` client commands in-process, as a user would type them."""

from __future__ import annotations

from collections.abc import Callable

import typer
from typer.testing import CliRunner, Result

from cloudplane.cli.client import register_client_commands

Run = Callable[..., Result]


def client_runner() -> Run:
    """A function running ``cloudplane ARGS…`` (client commands only) with optional input."""
    app = typer.Typer()
    register_client_commands(app)
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> Result:
        return runner.invoke(app, list(args), input=input, catch_exceptions=False)

    return run

"""Bring a database schema to the newest Alembic revision."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine


def migrations_dir() -> Path:
    """The revisions: shipped inside the package when installed, beside ``src/`` in a checkout."""
    packaged = Path(__file__).resolve().parents[1] / "migrations"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    return config


def _upgrade(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    # "heads": features developed side by side may add revisions on separate branches.
    command.upgrade(config, "heads")


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Apply every revision not yet applied. Safe to run on an up-to-date database."""
    async with engine.begin() as connection:
        await connection.run_sync(_upgrade)

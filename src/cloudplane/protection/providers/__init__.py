"""The protection providers, by id: ``backup`` and ``snapshot``."""

from __future__ import annotations

from pathlib import Path

from cloudplane.protection.providers.backup import BackupProvider
from cloudplane.protection.providers.base import Provider
from cloudplane.protection.providers.snapshot import SnapshotProvider
from cloudplane.settings import Settings


def backup_store(settings: Settings) -> Path:
    """Where the backup provider keeps its copies (``CLOUDPLANE_BACKUP_DIR``)."""
    return settings.backup_dir or settings.data_dir / "backups"


def build_providers(settings: Settings) -> dict[str, Provider]:
    """Every provider, keyed by its id."""
    providers: list[Provider] = [BackupProvider(backup_store(settings)), SnapshotProvider()]
    return {provider.id: provider for provider in providers}

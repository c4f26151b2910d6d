"""What a protection provider does with each protected volume, and the schemas it publishes.

A provider sees volumes only: servers, images and networks are protected as metadata (what is
needed to rebuild them), which the checkpoint records the same way whatever the provider.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

from pydantic import BaseModel

from cloudplane.runtime import Runtime

SavedInfo = dict[str, Any]
"""What a provider keeps about one protected volume, stored in the checkpoint."""


class SavedDataNotWhole(OSError):
    """The saved data failed its check; raised before anything was written."""


class Provider(abc.ABC):
    """A way of protecting volume data. ``id`` is a fixed UUID so plans can name it.

    Every method is idempotent by the ids it is given, because the operation that calls it may
    run twice (a redelivered message, a worker that died half-way).
    """

    id: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str]
    options_model: ClassVar[type[BaseModel]]
    """The plan's ``parameters``."""
    restore_model: ClassVar[type[BaseModel]]
    """A restore's ``parameters`` (for restores to new resources)."""
    restores_in_place: ClassVar[bool] = False
    """Whether ``restore_volume_data`` may write into the protected volume itself."""

    @abc.abstractmethod
    async def protect_volume(
        self, runtime: Runtime, checkpoint_id: str, volume_id: str, options: BaseModel
    ) -> SavedInfo:
        """Copy (or pin) the volume's current data for the checkpoint and say where it is."""

    @abc.abstractmethod
    def restore_source_snapshot(self, saved: SavedInfo) -> str | None:
        """The backend snapshot a restored volume is created from (None: created blank)."""

    @abc.abstractmethod
    async def restore_volume_data(self, runtime: Runtime, saved: SavedInfo, volume_id: str) -> None:
        """Put the saved data into the volume ``volume_id``: a new one, or with
        ``restores_in_place`` the protected volume itself. Checks the saved data first and
        raises ``SavedDataNotWhole`` before writing anything when it is not whole."""

    @abc.abstractmethod
    async def verify_volume(self, runtime: Runtime, saved: SavedInfo) -> str | None:
        """Check the saved data is whole: None when it is, else the reason it is not."""

    @abc.abstractmethod
    async def delete_checkpoint_data(
        self, runtime: Runtime, checkpoint_id: str, saved: list[SavedInfo]
    ) -> None:
        """Remove everything stored for the checkpoint; removing what is gone succeeds."""

    async def finish_checkpoint(
        self, runtime: Runtime, checkpoint_id: str, manifest: dict[str, Any]
    ) -> None:
        """Store the checkpoint's manifest beside its data, where the provider keeps any."""
        del runtime, checkpoint_id, manifest

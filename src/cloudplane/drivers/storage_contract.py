"""The block-storage half of the driver contract: volumes, snapshots, attachments.

Like the compute half, every method is idempotent by the ids it is given and states its
postconditions; the contract test suite checks each of them against every driver.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BlockDeviceSpec:
    """A volume a server gets at boot: its backend volume, the device name, and boot order."""

    volume_id: str
    device: str
    boot: bool = False


class StorageDriver(abc.ABC):  # noqa: B024 - the storage methods are added with block storage
    """A backend that stores volumes and their snapshots and attaches them to servers."""

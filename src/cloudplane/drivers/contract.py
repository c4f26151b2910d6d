"""The whole driver contract: compute, block storage and networking in one backend."""

from __future__ import annotations

from cloudplane.drivers.base import ComputeDriver
from cloudplane.drivers.network_contract import NetworkDriver
from cloudplane.drivers.storage_contract import StorageDriver


class Driver(ComputeDriver, StorageDriver, NetworkDriver):
    """What ``CLOUDPLANE_DRIVER`` selects. Capabilities say which optional parts work."""

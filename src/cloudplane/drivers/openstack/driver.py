"""``OpenStackDriver``: the whole driver contract over an OpenStack cloud."""

from __future__ import annotations

from cloudplane.drivers.capabilities import Capability
from cloudplane.drivers.catalogue_source import CloudFlavor, CloudImage
from cloudplane.drivers.contract import Driver
from cloudplane.drivers.openstack.backend import CloudBackend
from cloudplane.drivers.openstack.catalogue import read_flavors, read_images
from cloudplane.drivers.openstack.compute import OpenStackCompute
from cloudplane.drivers.openstack.connection import OpenStackOptions, connect
from cloudplane.drivers.openstack.network import OpenStackNetwork
from cloudplane.drivers.openstack.storage import OpenStackStorage

# Everything but copying a volume's bytes in and out, which Cinder has no simple call for; the
# peers of security groups need Neutron's address groups.
_CAPABILITIES = frozenset(set(Capability) - {Capability.VOLUME_DATA})


class OpenStackDriver(OpenStackNetwork, OpenStackStorage, OpenStackCompute, Driver):
    """cloudplane's servers, volumes and networks as Nova, Cinder and Neutron resources.

    Every SDK call runs in a worker thread with a timeout and retries (``calls.py``). The
    halves come first in the class order so each one's concrete helpers serve the others.
    """

    name = "openstack"

    def __init__(self, options: OpenStackOptions) -> None:
        self.backend = CloudBackend(options)

    @property
    def capabilities(self) -> frozenset[Capability]:
        if self.backend.address_groups is False:
            return _CAPABILITIES - {Capability.GROUP_PEERS, Capability.GROUP_PEERS_WITH_PROTOCOL}
        return _CAPABILITIES

    async def open(self) -> None:
        """Read the cloud's configuration and connect; the first call authenticates."""
        self.backend.calls.start()
        options = self.backend.options
        self.backend.conn = await self.backend.calls.run(lambda: connect(options))

    async def close(self) -> None:
        """Drop the connection and the worker threads. Safe to call more than once."""
        self.backend.disconnect()
        self.backend.calls.stop()

    async def check(self) -> None:
        """One cheap authenticated call: the first flavor."""
        conn = self.backend.conn
        await self.backend.calls.run(lambda: next(iter(conn.compute.flavors(details=False)), None))

    async def list_cloud_flavors(self) -> list[CloudFlavor]:
        """The cloud's flavors, for cloudplane's catalogue."""
        conn = self.backend.conn
        return await self.backend.calls.run(lambda: read_flavors(conn))

    async def list_cloud_images(self) -> list[CloudImage]:
        """The cloud's active images, for cloudplane's catalogue."""
        conn = self.backend.conn
        return await self.backend.calls.run(lambda: read_images(conn))

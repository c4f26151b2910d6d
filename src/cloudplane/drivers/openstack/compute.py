"""The compute half of the OpenStack driver: cloudplane servers as Nova servers.

Each Nova server carries cloudplane's id in its metadata (``cloudplane_id``); the server index
finds it. Power actions are sent only when the server is not already where the call wants it,
which makes every call safe to repeat, and each waits for Nova's task to finish.
"""

from __future__ import annotations

import abc
import base64
import re
from typing import Any

from cloudplane.drivers.base import (
    ComputeDriver,
    ConsoleInfo,
    RebootKind,
    ServerInfo,
    ServerSpec,
)
from cloudplane.drivers.errors import DriverError, ServerNotFound
from cloudplane.drivers.network_contract import InterfaceSpec
from cloudplane.drivers.openstack.backend import CloudBackend
from cloudplane.drivers.openstack.errors import CONFLICT, QUOTA_EXCEEDED, translate
from cloudplane.drivers.openstack.flavors import pick_flavor
from cloudplane.drivers.openstack.images import ensure_glance_image, find_default_image
from cloudplane.drivers.openstack.names import ID_KEY
from cloudplane.drivers.openstack.status import (
    fault_of,
    power_state_of,
    server_gone,
    server_settled,
)

BAD_SPEC = "bad_spec"

# call -> (Nova status it leaves the server in, the action that gets it there)
_START = ("ACTIVE", "start_server")
_STOP = ("SHUTOFF", "stop_server")
_PAUSE = ("PAUSED", "pause_server")
_RESUME = ("ACTIVE", "unpause_server")


def server_info(server: Any, server_id: str) -> ServerInfo:
    return ServerInfo(
        id=server_id,
        power_state=power_state_of(server),
        host=server.host_id or None,
        backend_id=server.id,
        fault=fault_of(server),
    )


class OpenStackCompute(ComputeDriver):
    """``ComputeDriver`` over Nova; mixed into ``OpenStackDriver`` with the other halves."""

    backend: CloudBackend

    async def create_server(self, spec: ServerSpec) -> ServerInfo:
        try:
            existing = await self.backend.nova_server(spec.id)
        except ServerNotFound:
            existing = None
        if existing is not None:
            return server_info(await self._settled(spec.id, existing), spec.id)
        body = await self._server_body(spec)
        conn = self.backend.conn
        tries = 0

        def find_or_create() -> Any:
            # A create retried after a 5xx or a lost answer may have worked the first time.
            nonlocal tries
            tries += 1
            if tries > 1:
                found = _find_by_cloudplane_id(conn, spec.name, spec.id)
                if found is not None:
                    return found
            return conn.compute.create_server(**body)

        created = await self.backend.calls.run(find_or_create)
        self.backend.index.servers[spec.id] = created
        try:
            server = await self._settled(spec.id, created)
        except BaseException:
            await self._discard(spec.id, created.id)
            raise
        if server.status != "ACTIVE":
            fault = fault_of(server) or f"the server ended {server.status}"
            await self._discard(spec.id, server.id)
            code = QUOTA_EXCEEDED if "quota" in fault.lower() else "build_failed"
            raise DriverError(f"the cloud could not build server {spec.id}: {fault}", code=code)
        return server_info(server, spec.id)

    async def delete_server(self, server_id: str) -> None:
        try:
            server = await self.backend.nova_server(server_id)
        except ServerNotFound:
            return
        await self._discard(server_id, server.id)

    async def start_server(self, server_id: str) -> ServerInfo:
        return await self._act(server_id, *_START)

    async def stop_server(self, server_id: str, *, timeout_s: float = 60.0) -> ServerInfo:
        # Nova's own graceful-shutdown timeout applies; it forces the guest off after it.
        return await self._act(server_id, *_STOP)

    async def pause_server(self, server_id: str) -> ServerInfo:
        return await self._act(server_id, *_PAUSE)

    async def resume_server(self, server_id: str) -> ServerInfo:
        return await self._act(server_id, *_RESUME)

    async def reboot_server(self, server_id: str, kind: RebootKind) -> ServerInfo:
        server = await self._settled(server_id, await self.backend.nova_server(server_id))
        conn = self.backend.conn
        reboot_type = "HARD" if kind is RebootKind.HARD else "SOFT"
        await self.backend.calls.run(
            lambda: conn.compute.reboot_server(server.id, reboot_type),
            kind="server",
            resource_id=server_id,
        )
        return await self._expect(server_id, server, "ACTIVE")

    async def get_server(self, server_id: str) -> ServerInfo:
        return server_info(await self.backend.nova_server(server_id), server_id)

    async def list_servers(self) -> list[ServerInfo]:
        await self.backend.refresh_servers()
        return [
            server_info(server, server_id)
            for server_id, server in self.backend.index.servers.items()
        ]

    async def get_console(self, server_id: str) -> ConsoleInfo:
        server = await self.backend.nova_server(server_id)
        conn = self.backend.conn
        console = await self.backend.calls.run(
            lambda: conn.compute.create_server_remote_console(
                server.id, protocol="vnc", type="novnc"
            ),
            kind="server",
            resource_id=server_id,
        )
        return ConsoleInfo(type="vnc", url=console.url)

    # --- the steps --------------------------------------------------------------------------

    async def _act(self, server_id: str, target: str, action: str) -> ServerInfo:
        server = await self._settled(server_id, await self.backend.nova_server(server_id))
        if server.status != target:
            conn = self.backend.conn
            try:
                await self.backend.calls.run(
                    lambda: getattr(conn.compute, action)(server.id),
                    kind="server",
                    resource_id=server_id,
                )
            except DriverError as exc:
                if exc.code == CONFLICT:
                    raise DriverError(
                        f"the cloud cannot {action.split('_')[0]} server {server_id} while it "
                        f"is {server.status}",
                        code=CONFLICT,
                    ) from exc
                raise
        return await self._expect(server_id, server, target)

    async def _expect(self, server_id: str, server: Any, target: str) -> ServerInfo:
        settled = await self._settled(server_id, server)
        if settled.status != target:
            reason = fault_of(settled) or f"it is {settled.status}"
            raise DriverError(
                f"server {server_id} did not become {target}: {reason}", code="invalid_state"
            )
        return server_info(settled, server_id)

    async def _settled(self, server_id: str, server: Any) -> Any:
        """The server once no task runs on it; its first read is after the call that started
        the task, so a task Nova has not begun reporting yet is still seen."""
        conn = self.backend.conn
        backend_id = server.id

        async def fetch() -> Any:
            current = await self.backend.calls.run(
                lambda: conn.compute.get_server(backend_id), kind="server", resource_id=server_id
            )
            self.backend.index.put(current)
            return current

        return await self.backend.calls.wait_for(fetch, server_settled, what=f"server {server_id}")

    async def _discard(self, server_id: str, backend_id: str) -> None:
        """Delete the Nova server and wait until it is gone."""
        conn = self.backend.conn

        async def fetch() -> Any:
            try:
                return await self.backend.calls.run(
                    lambda: conn.compute.get_server(backend_id),
                    kind="server",
                    resource_id=server_id,
                )
            except ServerNotFound:
                return None

        try:
            await self.backend.calls.run(lambda: conn.compute.delete_server(backend_id))
        except Exception as exc:
            if translate(exc, kind="server", resource_id=server_id).code != "not_found":
                raise
        await self.backend.calls.wait_for(fetch, server_gone, what=f"deleting server {server_id}")
        self.backend.index.drop(server_id)

    async def _server_body(self, spec: ServerSpec) -> dict[str, Any]:
        conn = self.backend.conn
        calls = self.backend.calls
        flavor = await calls.run(lambda: pick_flavor(conn, spec.vcpus, spec.ram_mb, spec.disk_gb))
        body: dict[str, Any] = {
            "name": spec.name,
            "flavor_id": flavor.id,
            "metadata": {**{k: v[:255] for k, v in spec.metadata.items()}, ID_KEY: spec.id},
        }
        if spec.user_data:
            body["user_data"] = base64.b64encode(spec.user_data.encode()).decode()
        mappings = await self._block_device_mappings(spec)
        if mappings:
            body["block_device_mapping_v2"] = mappings
        if not any(m["boot_index"] == 0 for m in mappings):
            if spec.image is not None:
                image = spec.image
                body["image_id"] = await calls.run(lambda: ensure_glance_image(conn, image))
            else:
                default = self.backend.options.default_image
                if default is None:
                    raise DriverError(
                        f"server {spec.id} names neither an image nor a boot volume and no "
                        "default image is configured (CLOUDPLANE_OPENSTACK_DEFAULT_IMAGE)",
                        code=BAD_SPEC,
                    )
                body["image_id"] = await calls.run(lambda: find_default_image(conn, default))
        ports = [await self.ensure_interface_port(interface) for interface in spec.interfaces]
        body["networks"] = [{"port": port_id} for port_id in ports] if ports else "none"
        return body

    async def _block_device_mappings(self, spec: ServerSpec) -> list[dict[str, Any]]:
        mappings: list[dict[str, Any]] = []
        for device in spec.block_devices:
            volume = await self.cinder_volume(device.volume_id)
            mappings.append(
                {
                    "uuid": volume.id,
                    "source_type": "volume",
                    "destination_type": "volume",
                    "boot_index": 0 if device.boot else -1,
                    "device_name": f"/dev/{device.device}",
                    "delete_on_termination": False,
                }
            )
        return mappings

    @abc.abstractmethod
    async def ensure_interface_port(self, interface: InterfaceSpec) -> str:
        """The Neutron port id behind ``interface``, made as ``create_port`` would if missing
        (the network half provides it)."""

    @abc.abstractmethod
    async def cinder_volume(self, volume_id: str) -> Any:
        """The Cinder volume holding cloudplane volume ``volume_id``; ``ResourceNotFound``
        when there is none (the storage half provides it)."""


def _find_by_cloudplane_id(conn: Any, name: str, server_id: str) -> Any:
    """The live server named ``name`` that carries ``server_id`` (blocking; one list call)."""
    for server in conn.compute.servers(details=True, name=f"^{re.escape(name)}$"):
        if (server.metadata or {}).get(ID_KEY) == server_id and server.status != "DELETED":
            return server
    return None

"""One test cloud's state: what its services hold, how transitional states settle, and the
knobs tests turn (injected errors, quotas, failing builds, the request log).

A resource in a transitional state (BUILD, creating, attaching, …) is reported so by the next
read and settles on the read after that, so a client must really poll, as it must with a cloud.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.openstack_cloud.payloads import payload

PROJECT_ID = "a6944d763bf64ee6a275f1263fae0352"
EXTERNAL_NETWORK_NAME = "public"
SEED_IMAGE_NAME = "cirros-0.6.2-x86_64-disk"

Resource = dict[str, Any]


@dataclass(frozen=True)
class LoggedRequest:
    service: str
    method: str
    path: str
    query: dict[str, list[str]]


@dataclass
class InjectedError:
    service: str
    method: str
    path_contains: str
    status: int
    times: int
    message: str | None = None
    after_handling: bool = False
    """Do what was asked, then answer the error anyway (a failure after the fact)."""


@dataclass
class Quotas:
    instances: int = 1000
    gigabytes: int = 100000
    ports: int = 10000


@dataclass
class Cloud:
    """Everything one cloud holds. Every handler runs under ``lock``."""

    key: str
    lock: threading.RLock = field(default_factory=threading.RLock)
    servers: dict[str, Resource] = field(default_factory=dict)
    deleted_servers: dict[str, Resource] = field(default_factory=dict)
    flavors: dict[str, Resource] = field(default_factory=dict)
    images: dict[str, Resource] = field(default_factory=dict)
    image_data: dict[str, bytes] = field(default_factory=dict)
    volumes: dict[str, Resource] = field(default_factory=dict)
    snapshots: dict[str, Resource] = field(default_factory=dict)
    networks: dict[str, Resource] = field(default_factory=dict)
    subnets: dict[str, Resource] = field(default_factory=dict)
    ports: dict[str, Resource] = field(default_factory=dict)
    floating_ips: dict[str, Resource] = field(default_factory=dict)
    security_groups: dict[str, Resource] = field(default_factory=dict)
    address_groups: dict[str, Resource] = field(default_factory=dict)
    network_extensions: set[str] = field(default_factory=lambda: {"address-group"})
    """Neutron's API extensions this cloud offers (aliases); a test may take some away."""
    quotas: Quotas = field(default_factory=Quotas)
    failing_build_message: str | None = None
    """When set, new servers go to ERROR with this fault instead of ACTIVE."""
    response_delay_s: float = 0.0
    """How long the cloud takes to answer each service call (a slow or stuck cloud)."""
    requests: list[LoggedRequest] = field(default_factory=list)
    injected: list[InjectedError] = field(default_factory=list)
    clock_offset: timedelta = timedelta()

    def __post_init__(self) -> None:
        self._seed()

    # --- knobs for tests ------------------------------------------------------------------

    def inject_error(
        self,
        service: str,
        method: str,
        path_contains: str,
        status: int,
        *,
        times: int = 1,
        message: str | None = None,
        after_handling: bool = False,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and its error payload
        (having done the work first when ``after_handling``)."""
        with self.lock:
            self.injected.append(
                InjectedError(
                    service, method, path_contains, status, times, message, after_handling
                )
            )

    def take_injected(self, service: str, method: str, path: str) -> InjectedError | None:
        for injected in self.injected:
            if (
                injected.service == service
                and injected.method == method
                and injected.path_contains in path
                and injected.times > 0
            ):
                injected.times -= 1
                return injected
        return None

    def requests_to(self, service: str, method: str, path_contains: str) -> list[LoggedRequest]:
        with self.lock:
            return [
                r
                for r in self.requests
                if r.service == service and r.method == method and path_contains in r.path
            ]

    def delete_server_behind_the_back(self, backend_id: str) -> None:
        """An operator deletes the server with the cloud's own tools."""
        with self.lock:
            self.finish_server_delete(self.servers[backend_id])

    def delete_volume_behind_the_back(self, name: str) -> None:
        """An operator deletes the volume called ``name`` with the cloud's own tools."""
        with self.lock:
            (backend_id,) = [key for key, volume in self.volumes.items() if volume["name"] == name]
            del self.volumes[backend_id]

    def crash_server(self, backend_id: str, message: str) -> None:
        """The cloud puts the server into ERROR with ``message`` as its fault."""
        with self.lock:
            server = self.servers[backend_id]
            server.update(
                {
                    "status": "ERROR",
                    "OS-EXT-STS:vm_state": "error",
                    "OS-EXT-STS:task_state": None,
                    "OS-EXT-STS:power_state": 0,
                    "fault": {"code": 500, "message": message, "created": self.timestamp()},
                }
            )
            self.touch(server)

    # --- helpers for handlers -------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now(UTC) + self.clock_offset

    def timestamp(self) -> str:
        return self.now().strftime("%Y-%m-%dT%H:%M:%SZ")

    def touch(self, resource: Resource) -> None:
        stamp = self.timestamp()
        for key in ("updated", "updated_at"):
            if key in resource:
                resource[key] = stamp

    @staticmethod
    def new_id() -> str:
        return str(uuid.uuid4())

    def settle_later(self, resource: Resource, **final: Any) -> None:
        """Report ``resource`` as it is now on the next read, and with ``final`` after that."""
        resource["_after"] = final
        resource["_reads"] = 1

    def observe(self, resource: Resource) -> Resource | None:
        """Advance the resource's pending transition by one read; ``None`` when it is gone."""
        if "_after" in resource:
            if resource["_reads"] > 0:
                resource["_reads"] -= 1
            else:
                final = resource.pop("_after")
                del resource["_reads"]
                if final.pop("_gone", False):
                    return None
                resource.update(final)
                self.touch(resource)
        return resource

    def finish_server_delete(self, server: Resource) -> None:
        self.servers.pop(server["id"], None)
        for port in self.ports.values():
            if port["device_id"] == server["id"]:
                port.update(device_id="", device_owner="", status="DOWN")
        for volume in self.volumes.values():
            volume["attachments"] = [
                a for a in volume["attachments"] if a["server_id"] != server["id"]
            ]
            if not volume["attachments"] and volume["status"] == "in-use":
                volume["status"] = "available"
        server.update(
            {
                "status": "DELETED",
                "OS-EXT-STS:vm_state": "deleted",
                "OS-EXT-STS:task_state": None,
                "OS-EXT-STS:power_state": 0,
                "OS-SRV-USG:terminated_at": self.timestamp(),
            }
        )
        server.pop("_after", None)
        server.pop("_reads", None)
        self.touch(server)
        self.deleted_servers[server["id"]] = server

    def _seed(self) -> None:
        for flavor_id, name, vcpus, ram, disk in (
            ("1", "m1.tiny", 1, 512, 1),
            ("2", "m1.small", 1, 2048, 20),
            ("3", "m1.medium", 2, 4096, 40),
            ("c1", "cirros256", 1, 256, 1),
        ):
            self.flavors[flavor_id] = payload(
                "flavor", id=flavor_id, name=name, vcpus=vcpus, ram=ram, disk=disk
            )
        image_id = "9d5f3a5e-6a3c-4d0e-9a35-0c5b9f2d1a11"
        stamp = self.timestamp()
        self.images[image_id] = payload(
            "image",
            id=image_id,
            name=SEED_IMAGE_NAME,
            size=21430272,
            virtual_size=117440512,
            checksum="c8fc807773e5354afe61636071771906",
            os_hash_algo="sha512",
            os_hash_value="6b813aa46bb90b4da216a4d19376593fa3f4fc7e617f03a92b7fe11e9a3981cb"
            "e8f0959dbebe36225e5f53dc4492341a4863cac4ed1ee0909f3fc78ef9c3e869",
            created_at=stamp,
            updated_at=stamp,
            self=f"/v2/images/{image_id}",
            file=f"/v2/images/{image_id}/file",
        )
        network_id = self.new_id()
        subnet_id = self.new_id()
        self.networks[network_id] = payload(
            "network",
            id=network_id,
            name=EXTERNAL_NETWORK_NAME,
            subnets=[subnet_id],
            **{"router:external": True},
            created_at=stamp,
            updated_at=stamp,
        )
        self.subnets[subnet_id] = payload(
            "subnet",
            id=subnet_id,
            name="public-subnet",
            network_id=network_id,
            cidr="203.0.113.0/24",
            gateway_ip="203.0.113.1",
            allocation_pools=[{"start": "203.0.113.2", "end": "203.0.113.254"}],
            created_at=stamp,
            updated_at=stamp,
        )

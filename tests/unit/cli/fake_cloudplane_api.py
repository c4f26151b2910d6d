"""A small in-memory stand-in for the cloudplane API, served over real HTTP for client tests.

It implements only what the client commands use, with API.md's bodies, errors, keyset
pagination and 202 + operation flow. Operations advance when they are read (pending → running →
succeeded/failed), and so do resources that settle without an operation (a network in BUILD), so
a client's polling drives them and no timer is involved.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

Json = dict[str, Any]
RESERVED_QUERY = {"limit", "marker", "sort", "all_projects", "name_prefix"}
COLLECTIONS = (
    "servers",
    "flavors",
    "images",
    "projects",
    "users",
    "api-keys",
    "operations",
    "audit-events",
    "volumes",
    "snapshots",
    "storage-pools",
    "volume-types",
    "networks",
    "ports",
    "floating-ips",
    "security-groups",
    "security-group-rules",
)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_id() -> str:
    return str(uuid.uuid4())


class FakeApiError(Exception):
    """Rendered as the API's error body."""

    def __init__(self, http_status: int, code: str, message: str, details: Json | None = None):
        super().__init__(message)
        self.http_status, self.code, self.message = http_status, code, message
        self.details = details or {}


@dataclass
class ReceivedUpload:
    size_bytes: int
    sha256: str
    chunks: int
    content_length: str | None
    content_type: str | None


@dataclass
class FakeCloudplane:
    """The fake's state; tests seed it and read what the client did to it."""

    project_id: str = field(default_factory=new_id)
    user_id: str = field(default_factory=new_id)
    passwords: dict[str, str] = field(default_factory=lambda: {"alice": "wonderland"})
    token_ttl: timedelta = timedelta(hours=1)
    polls_to_finish: int = 2
    failing_actions: set[str] = field(default_factory=set)
    unavailable_before_success: int = 0
    refused_uploads: bool = False
    store: dict[str, dict[str, Json]] = field(default_factory=dict)
    access_tokens: dict[str, datetime] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    bodies: list[tuple[str, str, Any]] = field(default_factory=list)
    uploads: dict[str, ReceivedUpload] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    quotas: dict[str, Json] = field(default_factory=dict)
    members: dict[tuple[str, str], str] = field(default_factory=dict)
    _polls: dict[str, int] = field(default_factory=dict)
    _effects: dict[str, tuple[Callable[[], None], Callable[[], None]]] = field(default_factory=dict)
    _settling: dict[str, tuple[int, Json]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in COLLECTIONS:
            self.store.setdefault(name, {})

    def reset(self) -> None:
        """Forget everything, so one served app can be reused by test after test."""
        self.__dict__.update(FakeCloudplane().__dict__)

    # -- seeding ----------------------------------------------------------------------------

    def issue_token(self) -> str:
        token = f"access-{new_id()}"
        self.access_tokens[token] = datetime.now(UTC) + self.token_ttl
        return token

    def add(self, kind: str, /, **fields: Any) -> Json:
        item: Json = {"id": new_id(), "created_at": rfc3339(datetime.now(UTC)), **fields}
        self.store[kind][item["id"]] = item
        return item

    def add_server(self, name: str, status: str = "ACTIVE", **fields: Any) -> Json:
        defaults: Json = {
            "description": None,
            "project_id": self.project_id,
            "flavor_id": None,
            "image_id": None,
            "task_state": None,
            "power_state": "running" if status == "ACTIVE" else "shutdown",
            "addresses": [],
            "floating_ips": [],
            "volumes": [],
            "metadata": {},
            "fault": None,
        }
        return self.add("servers", name=name, status=status, **{**defaults, **fields})

    def add_volume(self, name: str, status: str = "available", **fields: Any) -> Json:
        defaults: Json = {
            "description": "",
            "project_id": self.project_id,
            "user_id": self.user_id,
            "size_gb": 1,
            "volume_type": "standard",
            "volume_type_id": new_id(),
            "storage_pool_id": new_id(),
            "bootable": False,
            "image_id": None,
            "snapshot_id": None,
            "attachments": [],
            "delete_on_termination": False,
            "error": None,
            "deleted_at": None,
        }
        return self.add("volumes", name=name, status=status, **{**defaults, **fields})

    def add_network(self, name: str, cidr: str = "10.0.0.0/24", **fields: Any) -> Json:
        defaults: Json = {
            "description": "",
            "project_id": self.project_id,
            "ip_version": 4,
            "gateway_ip": None,
            "allocation_pools": [],
            "external": False,
            "shared": False,
            "status": "ACTIVE",
            "deleted_at": None,
        }
        return self.add("networks", name=name, cidr=cidr, **{**defaults, **fields})

    def add_port(self, network: Json, fixed_ip: str, name: str = "", **fields: Any) -> Json:
        defaults: Json = {
            "description": "",
            "project_id": self.project_id,
            "mac": "fa:16:3e:00:00:01",
            "device_id": None,
            "device_owner": None,
            "security_groups": [],
            "status": "DOWN",
            "deleted_at": None,
        }
        item = {"network_id": network["id"], "fixed_ips": [fixed_ip], **defaults, **fields}
        return self.add("ports", name=name, **item)

    def add_floating_ip(self, ip: str, network: Json, **fields: Any) -> Json:
        defaults: Json = {
            "project_id": self.project_id,
            "port_id": None,
            "server_id": None,
            "fixed_ip": None,
            "status": "DOWN",
            "task_state": None,
            "description": "",
            "deleted_at": None,
        }
        return self.add("floating-ips", ip=ip, network_id=network["id"], **{**defaults, **fields})

    def add_security_group(self, name: str, **fields: Any) -> Json:
        defaults: Json = {"description": "", "project_id": self.project_id, "rules": []}
        return self.add("security-groups", name=name, **{**defaults, **fields})

    def get_or_404(self, kind: str, item_id: str) -> Json:
        item = self.store[kind].get(item_id)
        if item is None:
            raise FakeApiError(404, "not_found", f"no {kind} {item_id}")
        return item

    def requests_to(self, method: str, path: str) -> list[dict[str, str]]:
        """Query parameters of every request made with ``method`` to exactly ``path``."""
        return [query for m, p, query, _ in self.requests if m == method and p == path]

    def headers_of(self, method: str, path: str) -> list[dict[str, str]]:
        return [headers for m, p, _, headers in self.requests if m == method and p == path]

    # -- operations -------------------------------------------------------------------------

    def start_operation(
        self,
        action: str,
        resource_id: str,
        on_success: Callable[[], None],
        on_failure: Callable[[], None],
        *,
        resource_type: str = "server",
    ) -> Json:
        operation = self.add(
            "operations",
            action=action,
            resource_type=resource_type,
            resource_id=resource_id,
            status="pending",
            error=None,
            request_id=f"req-{new_id()}",
            user_id=self.user_id,
            project_id=self.project_id,
            started_at=None,
            finished_at=None,
            events=[{"at": rfc3339(datetime.now(UTC)), "message": f"{action} queued"}],
        )
        self._polls[operation["id"]] = 0
        self._effects[operation["id"]] = (on_success, on_failure)
        return operation

    def advance(self, operation: Json) -> None:
        """One read of a running operation: pending → running → finished after enough reads."""
        if operation["status"] in {"succeeded", "failed"}:
            return
        self._polls[operation["id"]] += 1
        now = rfc3339(datetime.now(UTC))
        operation["status"], operation["started_at"] = "running", operation["started_at"] or now
        if self._polls[operation["id"]] < self.polls_to_finish:
            return
        on_success, on_failure = self._effects[operation["id"]]
        operation["finished_at"] = now
        if operation["action"] in self.failing_actions:
            operation["status"] = "failed"
            operation["error"] = {"code": "driver_error", "message": "the hypervisor said no"}
            on_failure()
        else:
            operation["status"] = "succeeded"
            on_success()
        operation["events"].append({"at": now, "message": f"{operation['action']} finished"})

    def settle_after_reads(self, item: Json, **fields: Any) -> None:
        """Make ``item`` take ``fields`` once it has been read ``polls_to_finish`` times."""
        self._settling[item["id"]] = (self.polls_to_finish, fields)

    def observe(self, item: Json) -> None:
        """One read of ``item``: count towards it settling, if it is settling."""
        if item["id"] not in self._settling:
            return
        reads_left, fields = self._settling[item["id"]]
        if reads_left > 1:
            self._settling[item["id"]] = (reads_left - 1, fields)
            return
        del self._settling[item["id"]]
        item.update(fields)


class ServerThread:
    """Runs an ASGI app with uvicorn on a free 127.0.0.1 port in a daemon thread."""

    def __init__(self, app: FastAPI) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake API did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._socket.close()


def error_response(status: int, code: str, message: str, details: Json | None = None) -> Response:
    request_id = f"req-{new_id()}"
    error: Json = {"code": code, "message": message, "request_id": request_id}
    body = {"error": {**error, "details": details or {}}}
    headers = {"X-Request-ID": request_id}
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status in {429, 503}:
        headers["Retry-After"] = "0"
    return JSONResponse(body, status_code=status, headers=headers)


async def body_of(request: Request, fake: FakeCloudplane) -> Any:
    """The request's JSON body (``None`` when empty), recorded in ``fake.bodies``."""
    body = await request.json() if await request.body() else None
    fake.bodies.append((request.method, request.url.path, body))
    return body


def accepted_response(body: Json, operation: Json) -> Response:
    """A ``202 Accepted`` carrying ``body``, its ``operation_id`` and the operation's Location."""
    return JSONResponse(
        {**body, "operation_id": operation["id"]},
        status_code=202,
        headers={"Location": f"/api/v1/operations/{operation['id']}"},
    )


def page_of(items: list[Json], query: dict[str, str]) -> Json:
    """Filter and cut one keyset page the way API.md describes."""
    for key, wanted in query.items():
        if key not in RESERVED_QUERY:
            items = [item for item in items if str(item.get(key)) == wanted]
    if prefix := query.get("name_prefix"):
        items = [item for item in items if str(item.get("name", "")).startswith(prefix)]
    limit = int(query.get("limit", "50"))
    if not 1 <= limit <= 1000:
        raise FakeApiError(422, "validation_error", "bad limit", {"errors": [{"field": "limit"}]})
    start = 0
    if marker := query.get("marker"):
        ids = [item["id"] for item in items]
        if marker not in ids:
            raise FakeApiError(400, "bad_request", f"unknown marker {marker}")
        start = ids.index(marker) + 1
    chosen = items[start : start + limit]
    more = start + limit < len(items)
    return {"items": chosen, "next_marker": chosen[-1]["id"] if more and chosen else None}

"""Server rows as API bodies.

A body is built once, as plain dicts (``ServerBody``): the read paths send it as it is (see
``kit.json_body``), and the write paths validate it into ``ServerOut``/``ServerAccepted``. Both
serialise through pydantic, so the JSON is the same either way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol, TypedDict

from cloudplane.compute.schemas import ServerAccepted, ServerOut
from cloudplane.compute.server_extras import (
    NO_EXTRAS,
    ServerAddressEntry,
    ServerExtras,
    ServerFloatingIpEntry,
)
from cloudplane.compute.states import ServerStatus
from cloudplane.storage.server_volumes import ServerVolumeEntry


class ServerFields(Protocol):
    """What a server body is built from: a ``Server`` row object, or a row of
    ``repository.SERVER_VIEW_COLUMNS``."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def project_id(self) -> str: ...
    @property
    def user_id(self) -> str: ...
    @property
    def flavor_id(self) -> str: ...
    @property
    def image_id(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def task_state(self) -> str | None: ...
    @property
    def power_state(self) -> str: ...
    @property
    def metadata_(self) -> dict[str, Any]: ...
    @property
    def fault_code(self) -> str | None: ...
    @property
    def fault_message(self) -> str | None: ...
    @property
    def fault_at(self) -> datetime | None: ...
    @property
    def host(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...
    @property
    def deleted_at(self) -> datetime | None: ...


class FaultBody(TypedDict):
    code: str
    message: str
    at: datetime


class ServerBody(TypedDict):
    """``ServerOut`` as plain data, field for field."""

    id: str
    name: str
    description: str
    project_id: str
    user_id: str
    flavor_id: str
    image_id: str | None
    status: str
    task_state: str | None
    power_state: str
    addresses: list[ServerAddressEntry]
    floating_ips: list[ServerFloatingIpEntry]
    volumes: list[ServerVolumeEntry]
    metadata: dict[str, str]
    fault: FaultBody | None
    host: str | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


def server_body(server: ServerFields, extras: ServerExtras = NO_EXTRAS) -> ServerBody:
    """The body of ``server``: a dict shaped exactly like ``ServerOut``."""
    fault: FaultBody | None = None
    if server.fault_code and server.fault_message and server.fault_at:
        fault = {"code": server.fault_code, "message": server.fault_message, "at": server.fault_at}
    deleted = server.deleted_at is not None
    return {
        "id": server.id,
        "name": server.name,
        "description": server.description,
        "project_id": server.project_id,
        "user_id": server.user_id,
        "flavor_id": server.flavor_id,
        "image_id": server.image_id,
        "status": ServerStatus.DELETED.value if deleted else server.status,
        "task_state": server.task_state,
        "power_state": server.power_state,
        # Copies: ``NO_EXTRAS`` is shared by every body without extras.
        "addresses": list(extras.addresses),
        "floating_ips": list(extras.floating_ips),
        "volumes": list(extras.volumes),
        "metadata": dict(server.metadata_ or {}),
        "fault": fault,
        "host": server.host,
        "created_at": server.created_at,
        "updated_at": server.updated_at,
        "deleted_at": server.deleted_at,
    }


def server_out(server: ServerFields, extras: ServerExtras = NO_EXTRAS) -> ServerOut:
    return ServerOut.model_validate(server_body(server, extras))


def server_accepted(
    server: ServerFields, operation_id: str, extras: ServerExtras = NO_EXTRAS
) -> ServerAccepted:
    return ServerAccepted.model_validate(
        {**server_body(server, extras), "operation_id": operation_id}
    )

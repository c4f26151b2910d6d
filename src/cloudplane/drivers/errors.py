"""Errors every driver raises; they carry a short machine-readable ``code``."""

from __future__ import annotations

import enum


class DriverError(Exception):
    """A backend call failed. ``code`` is a short machine-readable reason."""

    def __init__(self, message: str, *, code: str = "driver_error") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ServerNotFound(DriverError):
    """The backend has no server with that id (for calls where that is an error)."""

    def __init__(self, server_id: str) -> None:
        super().__init__(f"server {server_id} does not exist on the backend", code="not_found")
        self.server_id = server_id


class Unsupported(DriverError):
    """The backend lacks the capability for this call."""

    def __init__(self, capability: enum.Enum) -> None:
        super().__init__(f"the driver does not support {capability.value}", code="not_supported")
        self.capability = capability


class ResourceNotFound(DriverError):
    """The backend has no volume, snapshot, network, port … with that id."""

    def __init__(self, kind: str, resource_id: str) -> None:
        super().__init__(f"{kind} {resource_id} does not exist on the backend", code="not_found")
        self.kind = kind
        self.resource_id = resource_id

"""Requests, replies and routes of the test cloud; every service module declares its routes."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.openstack_cloud.state import Cloud


@dataclass
class Request:
    method: str
    path: str
    """The path below the service's versioned root, e.g. ``/servers/detail``."""
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else None

    def json(self, key: str) -> dict[str, Any]:
        """The request body's ``key`` object; a missing one is the cloud's 400."""
        if not isinstance(self.body, dict) or not isinstance(self.body.get(key), dict):
            raise CloudError(400, f"Missing or malformed '{key}' in the request body.")
        value: dict[str, Any] = self.body[key]
        return value

    def microversion(self, service: str) -> tuple[int, int]:
        """The microversion the client asked for (``OpenStack-API-Version``), or the minimum."""
        header = self.headers.get("openstack-api-version", "")
        parts = header.split()
        if len(parts) == 2 and parts[0] == service and parts[1] != "latest":
            major, minor = parts[1].split(".")
            return int(major), int(minor)
        return (2, 1) if service == "compute" else (3, 0)


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class CloudError(Exception):
    """Answered with the service's error document for ``status``."""

    def __init__(self, status: int, message: str | None = None) -> None:
        super().__init__(message or str(status))
        self.status = status
        self.message = message


Handler = Callable[["Cloud", Request], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def route(routes: list[Route], method: str, pattern: str) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``method`` and the path regex ``pattern`` (named groups)."""

    def register(handler: Handler) -> Handler:
        routes.append(Route(method, re.compile(f"^{pattern}/?$"), handler))
        return handler

    return register


def dispatch(routes: list[Route], cloud: Cloud, request: Request) -> Reply:
    allowed = False
    for candidate in routes:
        match = candidate.pattern.match(request.path)
        if match is None:
            continue
        if candidate.method != request.method:
            allowed = True
            continue
        request.params = match.groupdict()
        return candidate.handler(cloud, request)
    raise CloudError(405 if allowed else 404, f"no route for {request.method} {request.path}")

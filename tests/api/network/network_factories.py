"""Plain functions that make networking test data through the API, as a client would."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.api import ApiSession

from cloudplane.identity.models import Role
from cloudplane.identity.principal import Principal


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def create_network(
    api: ApiSession, cidr: str = "10.10.0.0/24", **extra: Any
) -> dict[str, Any]:
    body = {"name": unique("net"), "cidr": cidr, **extra}
    response = await api.post("/networks", json=body)
    assert response.status_code == 201, response.text
    network: dict[str, Any] = response.json()
    return network


async def create_port(api: ApiSession, network_id: str, **extra: Any) -> dict[str, Any]:
    response = await api.post("/ports", json={"network_id": network_id, **extra})
    assert response.status_code == 201, response.text
    port: dict[str, Any] = response.json()
    return port


async def seeded_network(api: ApiSession, name: str) -> dict[str, Any]:
    """``public`` or ``demo-net`` (the admin's demo project sees both)."""
    items = (await api.get("/networks", params={"name": name})).json()["items"]
    assert len(items) == 1, items
    network: dict[str, Any] = items[0]
    return network


async def allocate_floating_ip(api: ApiSession, **extra: Any) -> dict[str, Any]:
    response = await api.post("/floating-ips", json=extra)
    assert response.status_code == 201, response.text
    floating_ip: dict[str, Any] = response.json()
    return floating_ip


async def associated_floating_ip(api: ApiSession, **target: str) -> dict[str, Any]:
    """A new floating IP associated with ``server_id=…`` or ``port_id=…``, as shown once the
    association's operation has run."""
    floating_ip = await allocate_floating_ip(api)
    response = await api.post(f"/floating-ips/{floating_ip['id']}/associate", json=target)
    assert response.status_code == 202, response.text
    await api.settle()
    shown: dict[str, Any] = (await api.get(f"/floating-ips/{floating_ip['id']}")).json()
    return shown


def principal_of(api: ApiSession) -> Principal:
    """The caller as a member principal, for calling services directly as compute does."""
    return Principal(
        user_id=api.user_id,
        username="test",
        project_id=api.project_id,
        roles=frozenset({Role.MEMBER}),
    )

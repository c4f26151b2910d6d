"""The few API calls every benchmark makes: log in, lift the quota, find the seeded catalogue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from bench.harness.processes import ADMIN_PASSWORD

UNLIMITED_COMPUTE = {"servers": -1, "vcpus": -1, "ram_mb": -1}


@dataclass(frozen=True, slots=True)
class Login:
    token: str
    project_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True, slots=True)
class Catalogue:
    flavor_id: str
    image_id: str


def expect(response: httpx.Response, *statuses: int) -> Any:
    """The JSON body of ``response``, or an error naming the request when its status is wrong."""
    if response.status_code not in statuses:
        raise RuntimeError(
            f"{response.request.method} {response.request.url} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    return response.json() if response.content else None


def login(base_url: str) -> Login:
    """An admin token scoped to the seeded ``demo`` project."""
    body = expect(
        httpx.post(
            f"{base_url}/api/v1/auth/token",
            json={"username": "admin", "password": ADMIN_PASSWORD},
            timeout=30,
        ),
        200,
    )
    return Login(token=body["access_token"], project_id=body["project_id"])


def lift_compute_quota(base_url: str, session: Login) -> None:
    """Make servers, vCPUs and RAM unlimited in the token's project.

    The service's schema takes the limits as a flat map; the wrapped ``{"limits": …}`` form is
    the fallback for a service that reads it that way.
    """
    url = f"{base_url}/api/v1/projects/{session.project_id}/quotas"
    response = httpx.put(url, json=UNLIMITED_COMPUTE, headers=session.headers, timeout=30)
    if response.status_code == 422:
        response = httpx.put(
            url, json={"limits": UNLIMITED_COMPUTE}, headers=session.headers, timeout=30
        )
    limits = expect(response, 200)["limits"]
    if any(limits[name] != -1 for name in UNLIMITED_COMPUTE):
        raise RuntimeError(f"the quota did not change: {limits}")


def seeded_catalogue(base_url: str, session: Login) -> Catalogue:
    """The ``m1.tiny`` flavor and the ``tiny`` image that the service seeds."""
    flavors = expect(httpx.get(f"{base_url}/api/v1/flavors", headers=session.headers), 200)
    images = expect(httpx.get(f"{base_url}/api/v1/images", headers=session.headers), 200)
    flavor = next(item["id"] for item in flavors["items"] if item["name"] == "m1.tiny")
    image = next(item["id"] for item in images["items"] if item["name"] == "tiny")
    return Catalogue(flavor_id=flavor, image_id=image)

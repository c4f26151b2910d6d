"""Keystone v3: a password token whose catalogue points every service at this cloud."""

from __future__ import annotations

import json
import uuid

from tests.openstack_cloud.payloads import payload
from tests.openstack_cloud.routing import CloudError, Reply, Request, Route, route
from tests.openstack_cloud.state import Cloud

ROUTES: list[Route] = []
USERNAME = "cloudplane"
PASSWORD = "secret"
_SERVICE_TYPES = {
    "identity": "keystone",
    "compute": "nova",
    "volumev3": "cinderv3",
    "block-storage": "cinder",
    "network": "neutron",
    "image": "glance",
}


@route(ROUTES, "POST", "/auth/tokens")
def issue_token(cloud: Cloud, request: Request) -> Reply:
    identity = request.json("auth").get("identity", {})
    user = identity.get("password", {}).get("user", {})
    if user.get("name") != USERNAME or user.get("password") != PASSWORD:
        raise CloudError(401, "The request you have made requires authentication.")
    endpoints: dict[str, str] = json.loads(request.headers["x-cloud-endpoints"])
    body = payload("keystone_token")
    body["token"]["catalog"] = [
        {
            "type": service_type,
            "name": _SERVICE_TYPES[service_type],
            "id": uuid.uuid5(uuid.NAMESPACE_URL, url).hex,
            "endpoints": [
                {
                    "id": uuid.uuid5(uuid.NAMESPACE_URL, f"{url}#{interface}").hex,
                    "interface": interface,
                    "region": "RegionOne",
                    "region_id": "RegionOne",
                    "url": url,
                }
                for interface in ("public", "internal")
            ],
        }
        for service_type, url in endpoints.items()
    ]
    return Reply(201, body, {"X-Subject-Token": f"gAAAAAB{uuid.uuid4().hex}"})

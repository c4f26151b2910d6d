"""Networking routes of the fake cloudplane API: networks, ports, floating IPs, security groups.

Bodies follow API.md and the server's schemas (``NetworkOut``, ``PortOut``, ``FloatingIpOut``,
``SecurityGroupOut``, ``SecurityGroupRuleOut``); state lives in :class:`FakeCloudplane`.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from tests.unit.cli.fake_cloudplane_api import (
    FakeApiError,
    FakeCloudplane,
    Json,
    accepted_response,
    body_of,
)

API = "/api/v1"


def add_network_routes(app: FastAPI, fake: FakeCloudplane) -> None:
    """Register every networking route on ``app``."""
    add_network_and_port_routes(app, fake)
    add_floating_ip_routes(app, fake)
    add_security_group_routes(app, fake)


def created(item: Json) -> Response:
    return JSONResponse(item, status_code=201)


def first_hosts(cidr: str) -> tuple[str, Json]:
    """The default gateway (first host) and allocation pool (every other host) of ``cidr``."""
    hosts = list(ipaddress.ip_network(cidr).hosts())
    return str(hosts[0]), {"start": str(hosts[1]), "end": str(hosts[-1])}


def add_network_and_port_routes(app: FastAPI, fake: FakeCloudplane) -> None:
    @app.post(f"{API}/networks")
    async def create_network(request: Request) -> Response:
        body = await body_of(request, fake)
        gateway, pool = first_hosts(body["cidr"])
        fields = {
            "gateway_ip": gateway,
            "allocation_pools": [pool],
            **{key: value for key, value in body.items() if key != "name"},
            "status": "BUILD",
        }
        network = fake.add_network(body["name"], **fields)
        fake.settle_after_reads(network, status="ACTIVE")
        return created(network)

    @app.patch(f"{API}/networks/{{network_id}}")
    async def update_network(network_id: str, request: Request) -> Json:
        network = fake.get_or_404("networks", network_id)
        network.update(await body_of(request, fake))
        return network

    @app.post(f"{API}/ports")
    async def create_port(request: Request) -> Response:
        body = await body_of(request, fake)
        network = fake.get_or_404("networks", body["network_id"])
        taken = {
            ip
            for port in fake.store["ports"].values()
            if port["network_id"] == network["id"]
            for ip in port["fixed_ips"]
        }
        fixed_ip = body.get("fixed_ip") or first_hosts(network["cidr"])[1]["start"]
        if fixed_ip in taken:
            raise FakeApiError(409, "conflict", f"{fixed_ip} is taken on {network['id']}")
        extra = {key: value for key, value in body.items() if key not in {"fixed_ip", "name"}}
        port = fake.add_port(network, fixed_ip, name=body.get("name", ""), **extra)
        return created(port)


def add_floating_ip_routes(app: FastAPI, fake: FakeCloudplane) -> None:
    @app.post(f"{API}/floating-ips")
    async def allocate(request: Request) -> Response:
        body = await body_of(request, fake)
        externals = [n for n in fake.store["networks"].values() if n["external"]]
        network_id = body.get("network_id") or (externals[0]["id"] if externals else None)
        if network_id is None:
            raise FakeApiError(404, "not_found", "there is no external network")
        network = fake.get_or_404("networks", network_id)
        ip = f"203.0.113.{len(fake.store['floating-ips']) + 10}"
        floating_ip = fake.add_floating_ip(ip, network, description=body.get("description", ""))
        return created(floating_ip)

    @app.post(f"{API}/floating-ips/{{floating_ip_id}}/associate")
    async def associate(floating_ip_id: str, request: Request) -> Response:
        floating_ip = fake.get_or_404("floating-ips", floating_ip_id)
        body = await body_of(request, fake)
        port = port_of_target(fake, body)
        if floating_ip["port_id"] not in {None, port["id"]}:
            message = f"floating IP {floating_ip['ip']} is associated elsewhere"
            raise FakeApiError(409, "conflict", message, {"status": floating_ip["status"]})
        floating_ip["task_state"] = "associating"

        def succeed() -> None:
            floating_ip.update(
                status="ACTIVE",
                task_state=None,
                port_id=port["id"],
                server_id=port["device_id"],
                fixed_ip=port["fixed_ips"][0],
            )
            if port["device_id"] in fake.store["servers"]:
                server = fake.store["servers"][port["device_id"]]
                server["floating_ips"].append({"id": floating_ip_id, "ip": floating_ip["ip"]})

        def fail() -> None:
            floating_ip.update(status="ERROR", task_state=None)

        operation = fake.start_operation(
            "associate", floating_ip_id, succeed, fail, resource_type="floating_ip"
        )
        return accepted_response(floating_ip, operation)

    @app.post(f"{API}/floating-ips/{{floating_ip_id}}/disassociate")
    async def disassociate(floating_ip_id: str) -> Response:
        floating_ip = fake.get_or_404("floating-ips", floating_ip_id)
        floating_ip["task_state"] = "disassociating"

        def succeed() -> None:
            for server in fake.store["servers"].values():
                server["floating_ips"] = [
                    entry for entry in server["floating_ips"] if entry["id"] != floating_ip_id
                ]
            floating_ip.update(
                status="DOWN", task_state=None, port_id=None, server_id=None, fixed_ip=None
            )

        def fail() -> None:
            floating_ip.update(status="ERROR", task_state=None)

        operation = fake.start_operation(
            "disassociate", floating_ip_id, succeed, fail, resource_type="floating_ip"
        )
        return accepted_response(floating_ip, operation)


def port_of_target(fake: FakeCloudplane, body: dict[str, Any]) -> Json:
    """The port an associate names: ``port_id``, or the first port of ``server_id``."""
    if ("server_id" in body) == ("port_id" in body):
        errors = {"errors": [{"field": "body", "reason": "give either server_id or port_id"}]}
        raise FakeApiError(422, "validation_error", "the request is not valid", errors)
    if "port_id" in body:
        return fake.get_or_404("ports", body["port_id"])
    server = fake.get_or_404("servers", body["server_id"])
    ports = [p for p in fake.store["ports"].values() if p["device_id"] == server["id"]]
    if not ports:
        raise FakeApiError(409, "conflict", f"server {server['id']} has no port")
    return ports[0]


def add_security_group_routes(app: FastAPI, fake: FakeCloudplane) -> None:
    @app.post(f"{API}/security-groups")
    async def create_group(request: Request) -> Response:
        body = await body_of(request, fake)
        return created(fake.add_security_group(**body))

    @app.post(f"{API}/security-groups/{{group_id}}/rules")
    async def add_rule(group_id: str, request: Request) -> Response:
        group = fake.get_or_404("security-groups", group_id)
        body = await body_of(request, fake)
        low = body.get("port_min", body.get("port_max"))
        high = body.get("port_max", body.get("port_min"))
        rule = fake.add(
            "security-group-rules",
            security_group_id=group_id,
            direction=body["direction"],
            protocol=body.get("protocol", "any"),
            ethertype="IPv4",
            port_min=low,
            port_max=high,
            remote_cidr=body.get("remote_cidr"),
            remote_group_id=None,
        )
        group["rules"].append(rule)
        return created(rule)

    @app.delete(f"{API}/security-group-rules/{{rule_id}}")
    async def delete_rule(rule_id: str) -> Response:
        rule = fake.get_or_404("security-group-rules", rule_id)
        group = fake.store["security-groups"][rule["security_group_id"]]
        group["rules"] = [entry for entry in group["rules"] if entry["id"] != rule_id]
        del fake.store["security-group-rules"][rule_id]
        return Response(status_code=204)

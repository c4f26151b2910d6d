"""Neutron v2.0: networks, subnets, ports, floating IPs, security groups and their rules,
address groups, and the extensions list."""

from __future__ import annotations

import ipaddress
from typing import Any

from tests.openstack_cloud.payloads import payload
from tests.openstack_cloud.routing import CloudError, Reply, Request, Route, route
from tests.openstack_cloud.state import Cloud, Resource

ROUTES: list[Route] = []
_ID = r"(?P<id>[0-9a-f-]+)"


def _get(table: dict[str, Resource], resource_id: str, kind: str) -> Resource:
    resource = table.get(resource_id)
    if resource is None:
        raise CloudError(404, f"{kind} {resource_id} could not be found.")
    return resource


def _filtered(resources: list[Resource], request: Request) -> list[Resource]:
    for name, values in request.query.items():
        if name in ("fields", "limit", "marker", "sort_key", "sort_dir"):
            continue
        resources = [
            r for r in resources if str(r.get(name)).lower() in {v.lower() for v in values}
        ]
    return resources


def _stamped(cloud: Cloud, kind: str, /, **fields: Any) -> Resource:
    stamp = cloud.timestamp()
    return payload(kind, id=cloud.new_id(), created_at=stamp, updated_at=stamp, **fields)


# --- networks and subnets ---------------------------------------------------------------


@route(ROUTES, "POST", "/networks")
def create_network(cloud: Cloud, request: Request) -> Reply:
    body = request.json("network")
    network = _stamped(
        cloud,
        "network",
        name=body.get("name", ""),
        shared=bool(body.get("shared", False)),
        description=body.get("description", ""),
        **{"router:external": bool(body.get("router:external", False))},
    )
    cloud.networks[network["id"]] = network
    return Reply(201, {"network": network})


@route(ROUTES, "GET", "/networks")
def list_networks(cloud: Cloud, request: Request) -> Reply:
    return Reply(200, {"networks": _filtered(list(cloud.networks.values()), request)})


@route(ROUTES, "GET", f"/networks/{_ID}")
def show_network(cloud: Cloud, request: Request) -> Reply:
    return Reply(200, {"network": _get(cloud.networks, request.params["id"], "Network")})


@route(ROUTES, "DELETE", f"/networks/{_ID}")
def delete_network(cloud: Cloud, request: Request) -> Reply:
    network = _get(cloud.networks, request.params["id"], "Network")
    if any(p["network_id"] == network["id"] for p in cloud.ports.values()):
        raise CloudError(
            409,
            f"Unable to complete operation on network {network['id']}. "
            "There are one or more ports still in use on the network.",
        )
    for subnet_id in network["subnets"]:
        cloud.subnets.pop(subnet_id, None)
    del cloud.networks[network["id"]]
    return Reply(204)


@route(ROUTES, "POST", "/subnets")
def create_subnet(cloud: Cloud, request: Request) -> Reply:
    body = request.json("subnet")
    network = cloud.networks.get(str(body.get("network_id")))
    if network is None:
        raise CloudError(404, f"Network {body.get('network_id')} could not be found.")
    try:
        cidr = str(ipaddress.ip_network(str(body.get("cidr"))))
    except ValueError as exc:
        raise CloudError(400, f"Invalid input for cidr: {exc}") from exc
    subnet = _stamped(
        cloud,
        "subnet",
        name=body.get("name", ""),
        network_id=network["id"],
        cidr=cidr,
        ip_version=int(body.get("ip_version", 4)),
        gateway_ip=body.get("gateway_ip"),
        allocation_pools=list(body.get("allocation_pools") or []),
        enable_dhcp=bool(body.get("enable_dhcp", True)),
    )
    cloud.subnets[subnet["id"]] = subnet
    network["subnets"].append(subnet["id"])
    return Reply(201, {"subnet": subnet})


@route(ROUTES, "GET", "/subnets")
def list_subnets(cloud: Cloud, request: Request) -> Reply:
    return Reply(200, {"subnets": _filtered(list(cloud.subnets.values()), request)})


# --- ports ------------------------------------------------------------------------------


@route(ROUTES, "POST", "/ports")
def create_port(cloud: Cloud, request: Request) -> Reply:
    body = request.json("port")
    network = cloud.networks.get(str(body.get("network_id")))
    if network is None:
        raise CloudError(404, f"Network {body.get('network_id')} could not be found.")
    if len(cloud.ports) >= cloud.quotas.ports:
        raise CloudError(409, "Quota exceeded for resources: ['port'].")
    fixed_ips = []
    for requested in body.get("fixed_ips") or []:
        address = requested.get("ip_address")
        subnet = next(
            (
                cloud.subnets[s]
                for s in network["subnets"]
                if address
                and ipaddress.ip_address(address) in ipaddress.ip_network(cloud.subnets[s]["cidr"])
            ),
            None,
        )
        if subnet is None:
            raise CloudError(400, f"IP address {address} is not a valid IP for the network.")
        taken = any(
            ip["ip_address"] == address
            for p in cloud.ports.values()
            if p["network_id"] == network["id"]
            for ip in p["fixed_ips"]
        )
        if taken:
            raise CloudError(
                409, f"IP address {address} already allocated in subnet {subnet['id']}"
            )
        fixed_ips.append({"subnet_id": subnet["id"], "ip_address": address})
    groups = list(body.get("security_groups") or [])
    for group_id in groups:
        _get(cloud.security_groups, group_id, "Security group")
    port = _stamped(
        cloud,
        "port",
        name=body.get("name", ""),
        network_id=network["id"],
        mac_address=body.get("mac_address") or "fa:16:3e:5e:0c:01",
        fixed_ips=fixed_ips,
        security_groups=groups,
        device_id=body.get("device_id", ""),
        description=body.get("description", ""),
    )
    cloud.ports[port["id"]] = port
    return Reply(201, {"port": port})


@route(ROUTES, "GET", "/ports")
def list_ports(cloud: Cloud, request: Request) -> Reply:
    return Reply(200, {"ports": _filtered(list(cloud.ports.values()), request)})


@route(ROUTES, "GET", f"/ports/{_ID}")
def show_port(cloud: Cloud, request: Request) -> Reply:
    return Reply(200, {"port": _get(cloud.ports, request.params["id"], "Port")})


@route(ROUTES, "PUT", f"/ports/{_ID}")
def update_port(cloud: Cloud, request: Request) -> Reply:
    port = _get(cloud.ports, request.params["id"], "Port")
    body = request.json("port")
    if "security_groups" in body:
        for group_id in body["security_groups"]:
            _get(cloud.security_groups, group_id, "Security group")
        port["security_groups"] = list(body["security_groups"])
    for key in ("name", "description", "device_id"):
        if key in body:
            port[key] = body[key]
    port["revision_number"] += 1
    cloud.touch(port)
    return Reply(200, {"port": port})


@route(ROUTES, "DELETE", f"/ports/{_ID}")
def delete_port(cloud: Cloud, request: Request) -> Reply:
    port = _get(cloud.ports, request.params["id"], "Port")
    for floating_ip in cloud.floating_ips.values():
        if floating_ip["port_id"] == port["id"]:
            floating_ip.update(port_id=None, fixed_ip_address=None, status="DOWN")
    del cloud.ports[port["id"]]
    return Reply(204)


# --- floating IPs -----------------------------------------------------------------------


@route(ROUTES, "POST", "/floatingips")
def create_floating_ip(cloud: Cloud, request: Request) -> Reply:
    body = request.json("floatingip")
    network = cloud.networks.get(str(body.get("floating_network_id")))
    if network is None:
        raise CloudError(404, f"Network {body.get('floating_network_id')} could not be found.")
    if not network["router:external"]:
        raise CloudError(400, f"Network {network['id']} is not a valid external network.")
    address = body.get("floating_ip_address")
    if address is None:
        raise CloudError(400, "this cloud hands out only the addresses it is asked for")
    if any(f["floating_ip_address"] == address for f in cloud.floating_ips.values()):
        raise CloudError(409, f"IP address {address} already allocated in subnet.")
    floating_ip = _stamped(
        cloud,
        "floatingip",
        floating_ip_address=address,
        floating_network_id=network["id"],
        description=body.get("description", ""),
    )
    _map(cloud, floating_ip, body)
    cloud.floating_ips[floating_ip["id"]] = floating_ip
    return Reply(201, {"floatingip": floating_ip})


@route(ROUTES, "GET", "/floatingips")
def list_floating_ips(cloud: Cloud, request: Request) -> Reply:
    listed = _filtered(list(cloud.floating_ips.values()), request)
    return Reply(200, {"floatingips": listed})


@route(ROUTES, "PUT", f"/floatingips/{_ID}")
def update_floating_ip(cloud: Cloud, request: Request) -> Reply:
    floating_ip = _get(cloud.floating_ips, request.params["id"], "Floating IP")
    _map(cloud, floating_ip, request.json("floatingip"))
    cloud.touch(floating_ip)
    return Reply(200, {"floatingip": floating_ip})


@route(ROUTES, "DELETE", f"/floatingips/{_ID}")
def delete_floating_ip(cloud: Cloud, request: Request) -> Reply:
    _get(cloud.floating_ips, request.params["id"], "Floating IP")
    del cloud.floating_ips[request.params["id"]]
    return Reply(204)


def _map(cloud: Cloud, floating_ip: Resource, body: dict[str, Any]) -> None:
    port_id = body.get("port_id")
    if port_id is None:
        floating_ip.update(port_id=None, fixed_ip_address=None, status="DOWN")
        return
    port = _get(cloud.ports, port_id, "Port")
    addresses = [ip["ip_address"] for ip in port["fixed_ips"]]
    fixed = body.get("fixed_ip_address") or (addresses[0] if addresses else None)
    if fixed not in addresses:
        raise CloudError(
            400, f"Bad floatingip request: Port {port_id} does not have fixed ip {fixed}."
        )
    floating_ip.update(port_id=port_id, fixed_ip_address=fixed, status="ACTIVE")


# --- security groups --------------------------------------------------------------------


@route(ROUTES, "POST", "/security-groups")
def create_security_group(cloud: Cloud, request: Request) -> Reply:
    body = request.json("security_group")
    group = _stamped(
        cloud, "security_group", name=body.get("name", ""), description=body.get("description", "")
    )
    cloud.security_groups[group["id"]] = group
    for ethertype in ("IPv4", "IPv6"):  # what Neutron gives every new group
        group["security_group_rules"].append(
            _stamped(
                cloud, "security_group_rule", security_group_id=group["id"], ethertype=ethertype
            )
        )
    return Reply(201, {"security_group": group})


@route(ROUTES, "GET", "/security-groups")
def list_security_groups(cloud: Cloud, request: Request) -> Reply:
    listed = _filtered(list(cloud.security_groups.values()), request)
    return Reply(200, {"security_groups": listed})


@route(ROUTES, "GET", f"/security-groups/{_ID}")
def show_security_group(cloud: Cloud, request: Request) -> Reply:
    group = _get(cloud.security_groups, request.params["id"], "Security group")
    return Reply(200, {"security_group": group})


@route(ROUTES, "DELETE", f"/security-groups/{_ID}")
def delete_security_group(cloud: Cloud, request: Request) -> Reply:
    group = _get(cloud.security_groups, request.params["id"], "Security group")
    if any(group["id"] in p["security_groups"] for p in cloud.ports.values()):
        raise CloudError(409, f"Security Group {group['id']} in use.")
    del cloud.security_groups[group["id"]]
    return Reply(204)


@route(ROUTES, "POST", "/security-group-rules")
def create_rule(cloud: Cloud, request: Request) -> Reply:
    body = request.json("security_group_rule")
    group = _get(cloud.security_groups, str(body.get("security_group_id")), "Security group")
    if body.get("direction") not in ("ingress", "egress"):
        raise CloudError(400, f"Invalid direction {body.get('direction')}")
    remote_group = body.get("remote_group_id")
    if remote_group is not None:
        _get(cloud.security_groups, remote_group, "Security group")
    if "remote_address_group_id" in body:
        if "address-group" not in cloud.network_extensions:
            raise CloudError(400, "Unrecognized attribute(s) 'remote_address_group_id'")
        if remote_group is not None and body["remote_address_group_id"] is not None:
            raise CloudError(
                400,
                "Only remote_ip_prefix or remote_group_id or remote_address_group_id "
                "may be provided.",
            )
        if body["remote_address_group_id"] is not None:
            _get(cloud.address_groups, body["remote_address_group_id"], "Address group")
    fields = {
        k: body.get(k)
        for k in (
            "direction",
            "ethertype",
            "protocol",
            "port_range_min",
            "port_range_max",
            "remote_ip_prefix",
            "remote_group_id",
            "remote_address_group_id",
            "description",
        )
    }
    rule = _stamped(cloud, "security_group_rule", security_group_id=group["id"], **fields)
    rule["description"] = rule["description"] or ""
    group["security_group_rules"].append(rule)
    return Reply(201, {"security_group_rule": rule})


@route(ROUTES, "DELETE", f"/security-group-rules/{_ID}")
def delete_rule(cloud: Cloud, request: Request) -> Reply:
    for group in cloud.security_groups.values():
        for rule in group["security_group_rules"]:
            if rule["id"] == request.params["id"]:
                group["security_group_rules"].remove(rule)
                return Reply(204)
    raise CloudError(404, f"Security group rule {request.params['id']} could not be found.")


# --- address groups and extensions ----------------------------------------------------------


def _address_groups_offered(cloud: Cloud) -> None:
    if "address-group" not in cloud.network_extensions:
        raise CloudError(404, "The resource could not be found.")


def _as_cidrs(addresses: object) -> list[str]:
    if not isinstance(addresses, list):
        raise CloudError(400, "Invalid input for addresses.")
    try:
        return [str(ipaddress.ip_network(str(a), strict=False)) for a in addresses]
    except ValueError as exc:
        raise CloudError(400, f"Invalid input for addresses: {exc}") from exc


def _addresses_of(request: Request) -> object:
    """The ``addresses`` list of an add or remove call's body."""
    return request.body.get("addresses") if isinstance(request.body, dict) else None


@route(ROUTES, "POST", "/address-groups")
def create_address_group(cloud: Cloud, request: Request) -> Reply:
    _address_groups_offered(cloud)
    body = request.json("address_group")
    group = payload(
        "address_group",
        id=cloud.new_id(),
        name=body.get("name", ""),
        description=body.get("description", ""),
        addresses=sorted(set(_as_cidrs(body.get("addresses", [])))),
    )
    cloud.address_groups[group["id"]] = group
    return Reply(201, {"address_group": group})


@route(ROUTES, "GET", "/address-groups")
def list_address_groups(cloud: Cloud, request: Request) -> Reply:
    _address_groups_offered(cloud)
    listed = _filtered(list(cloud.address_groups.values()), request)
    return Reply(200, {"address_groups": listed})


@route(ROUTES, "GET", f"/address-groups/{_ID}")
def show_address_group(cloud: Cloud, request: Request) -> Reply:
    _address_groups_offered(cloud)
    group = _get(cloud.address_groups, request.params["id"], "Address group")
    return Reply(200, {"address_group": group})


@route(ROUTES, "PUT", f"/address-groups/{_ID}/add_addresses")
def add_addresses(cloud: Cloud, request: Request) -> Reply:
    _address_groups_offered(cloud)
    group = _get(cloud.address_groups, request.params["id"], "Address group")
    added = _as_cidrs(_addresses_of(request))
    group["addresses"] = sorted(set(group["addresses"]) | set(added))
    return Reply(200, {"address_group": group})


@route(ROUTES, "PUT", f"/address-groups/{_ID}/remove_addresses")
def remove_addresses(cloud: Cloud, request: Request) -> Reply:
    _address_groups_offered(cloud)
    group = _get(cloud.address_groups, request.params["id"], "Address group")
    removed = set(_as_cidrs(_addresses_of(request)))
    missing = removed - set(group["addresses"])
    if missing:
        raise CloudError(400, f"Addresses {sorted(missing)} not found in the address group.")
    group["addresses"] = sorted(set(group["addresses"]) - removed)
    return Reply(200, {"address_group": group})


@route(ROUTES, "DELETE", f"/address-groups/{_ID}")
def delete_address_group(cloud: Cloud, request: Request) -> Reply:
    _address_groups_offered(cloud)
    group = _get(cloud.address_groups, request.params["id"], "Address group")
    in_use = any(
        rule.get("remote_address_group_id") == group["id"]
        for sg in cloud.security_groups.values()
        for rule in sg["security_group_rules"]
    )
    if in_use:
        raise CloudError(409, f"Address group {group['id']} is in use.")
    del cloud.address_groups[group["id"]]
    return Reply(204)


@route(ROUTES, "GET", "/extensions")
def list_extensions(cloud: Cloud, request: Request) -> Reply:
    offered = [payload("extension", alias=a, name=a) for a in sorted(cloud.network_extensions)]
    return Reply(200, {"extensions": _filtered(offered, request)})


@route(ROUTES, "GET", r"/extensions/(?P<alias>[a-z0-9_-]+)")
def show_extension(cloud: Cloud, request: Request) -> Reply:
    alias = request.params["alias"]
    if alias not in cloud.network_extensions:
        raise CloudError(404, f"Extension with alias {alias} does not exist")
    return Reply(200, {"extension": payload("extension", alias=alias, name=alias)})

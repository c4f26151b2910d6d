"""Nova 2.1 (microversions up to 2.96): servers, actions, volume attachments, consoles, flavors."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tests.openstack_cloud.payloads import payload
from tests.openstack_cloud.routing import CloudError, Reply, Request, Route, route
from tests.openstack_cloud.state import Cloud, Resource

ROUTES: list[Route] = []
_ID = r"(?P<id>[0-9a-zA-Z-]+)"

_ACTIVE = {"status": "ACTIVE", "OS-EXT-STS:vm_state": "active", "OS-EXT-STS:power_state": 1}
_SHUTOFF = {"status": "SHUTOFF", "OS-EXT-STS:vm_state": "stopped", "OS-EXT-STS:power_state": 4}
_PAUSED = {"status": "PAUSED", "OS-EXT-STS:vm_state": "paused", "OS-EXT-STS:power_state": 3}

# action -> (statuses it is allowed from, task state while it runs, state it leaves)
_ACTIONS: dict[str, tuple[set[str], str, dict[str, Any]]] = {
    "os-start": ({"SHUTOFF"}, "powering-on", _ACTIVE),
    "os-stop": ({"ACTIVE", "PAUSED", "ERROR"}, "powering-off", _SHUTOFF),
    "pause": ({"ACTIVE"}, "pausing", _PAUSED),
    "unpause": ({"PAUSED"}, "unpausing", _ACTIVE),
    "reboot:SOFT": ({"ACTIVE"}, "reboot_started", _ACTIVE),
    "reboot:HARD": ({"ACTIVE", "SHUTOFF", "PAUSED", "ERROR"}, "reboot_started_hard", _ACTIVE),
}


def _server(cloud: Cloud, server_id: str) -> Resource:
    server = cloud.servers.get(server_id)
    if server is None or cloud.observe(server) is None:
        if server is not None:
            cloud.finish_server_delete(server)
        raise CloudError(404, f"Instance {server_id} could not be found.")
    return server


@route(ROUTES, "GET", "/flavors/detail")
def list_flavors(cloud: Cloud, request: Request) -> Reply:
    return Reply(200, {"flavors": list(cloud.flavors.values())})


@route(ROUTES, "GET", "/flavors")
def list_flavor_summaries(cloud: Cloud, request: Request) -> Reply:
    summaries = [
        {"id": f["id"], "name": f["name"], "description": f["description"], "links": f["links"]}
        for f in cloud.flavors.values()
    ]
    return Reply(200, {"flavors": summaries})


@route(ROUTES, "GET", f"/flavors/{_ID}")
def show_flavor(cloud: Cloud, request: Request) -> Reply:
    flavor = cloud.flavors.get(request.params["id"])
    if flavor is None:
        raise CloudError(404, f"Flavor {request.params['id']} could not be found.")
    return Reply(200, {"flavor": flavor})


@route(ROUTES, "POST", "/servers")
def create_server(cloud: Cloud, request: Request) -> Reply:
    body = request.json("server")
    flavor = cloud.flavors.get(str(body.get("flavorRef")))
    if flavor is None:
        raise CloudError(400, f"Flavor {body.get('flavorRef')} could not be found.")
    image_id = body.get("imageRef") or None
    mappings = body.get("block_device_mapping_v2") or []
    boot_volume = next((m for m in mappings if m.get("boot_index") in (0, "0")), None)
    if image_id is None and boot_volume is None:
        raise CloudError(400, "Block Device Mapping is Invalid: You specified more local devices")
    if image_id is not None and cloud.images.get(image_id, {}).get("status") != "active":
        raise CloudError(400, f"Image {image_id} could not be found.")
    for mapping in mappings:
        if mapping.get("uuid") not in cloud.volumes:
            raise CloudError(400, f"Block Device Mapping is Invalid: {mapping.get('uuid')}")
    ports = [net.get("port") for net in body.get("networks") or [] if isinstance(net, dict)]
    for port_id in ports:
        port = cloud.ports.get(port_id or "")
        if port is None:
            raise CloudError(400, f"Port id {port_id} could not be found.")
        if port["device_id"]:
            raise CloudError(409, f"Port {port_id} is still in use.")
    if len(cloud.servers) >= cloud.quotas.instances:
        raise CloudError(
            403,
            f"Quota exceeded for instances: Requested 1, but already used "
            f"{len(cloud.servers)} of {cloud.quotas.instances} instances",
        )
    server_id = cloud.new_id()
    stamp = cloud.timestamp()
    server = payload(
        "server",
        id=server_id,
        name=body.get("name", ""),
        metadata=dict(body.get("metadata") or {}),
        image={"id": image_id, "links": []} if image_id else "",
        flavor={
            "vcpus": flavor["vcpus"],
            "ram": flavor["ram"],
            "disk": flavor["disk"],
            "ephemeral": 0,
            "swap": 0,
            "original_name": flavor["name"],
            "extra_specs": {},
        },
        created=stamp,
        updated=stamp,
        tags=list(body.get("tags") or []),
    )
    cloud.servers[server_id] = server
    for port_id in ports:
        assert port_id is not None
        cloud.ports[port_id].update(
            device_id=server_id, device_owner="compute:nova", status="ACTIVE"
        )
    for mapping in mappings:
        _attach(cloud, server, cloud.volumes[mapping["uuid"]], mapping.get("device_name"))
    if cloud.failing_build_message is not None:
        final: dict[str, Any] = {
            "status": "ERROR",
            "OS-EXT-STS:vm_state": "error",
            "OS-EXT-STS:power_state": 0,
            "OS-EXT-STS:task_state": None,
            "fault": {"code": 500, "message": cloud.failing_build_message, "created": stamp},
        }
    else:
        final = {**_ACTIVE, "OS-EXT-STS:task_state": None, "OS-SRV-USG:launched_at": stamp}
    cloud.settle_later(server, **final)
    created = payload("server_created")
    created["server"]["id"] = server_id
    return Reply(202, created, {"Location": f"/v2.1/servers/{server_id}"})


@route(ROUTES, "GET", "/servers/detail")
def list_servers(cloud: Cloud, request: Request) -> Reply:
    since = request.arg("changes-since")
    listed: list[Resource] = []
    for server in list(cloud.servers.values()):
        if cloud.observe(server) is None:
            cloud.finish_server_delete(server)
        else:
            listed.append(server)
    if since is not None:
        try:
            moment = datetime.fromisoformat(since)
        except ValueError as exc:
            raise CloudError(400, f"Invalid filter field: changes-since. {exc}") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)  # Nova reads a bare time as UTC
        listed = [
            s
            for s in listed + list(cloud.deleted_servers.values())
            if datetime.fromisoformat(s["updated"]) >= moment
        ]
    name = request.arg("name")
    if name is not None:
        listed = [s for s in listed if re.search(name, s["name"])]
    return Reply(200, {"servers": listed})


@route(ROUTES, "GET", f"/servers/{_ID}")
def show_server(cloud: Cloud, request: Request) -> Reply:
    return Reply(200, {"server": _server(cloud, request.params["id"])})


@route(ROUTES, "DELETE", f"/servers/{_ID}")
def delete_server(cloud: Cloud, request: Request) -> Reply:
    server = _server(cloud, request.params["id"])
    server["OS-EXT-STS:task_state"] = "deleting"
    cloud.touch(server)
    cloud.settle_later(server, _gone=True)
    return Reply(204)


@route(ROUTES, "POST", f"/servers/{_ID}/action")
def server_action(cloud: Cloud, request: Request) -> Reply:
    server = _server(cloud, request.params["id"])
    if not isinstance(request.body, dict) or len(request.body) != 1:
        raise CloudError(400, "Invalid server action.")
    ((action, argument),) = request.body.items()
    if action == "reboot":
        action = f"reboot:{(argument or {}).get('type', 'SOFT')}"
    if action not in _ACTIONS:
        raise CloudError(400, f"Unknown server action {action}.")
    allowed, task_state, final = _ACTIONS[action]
    if server["OS-EXT-STS:task_state"] is not None or server["status"] not in allowed:
        raise CloudError(
            409,
            f"Cannot '{action.split(':')[0]}' instance {server['id']} while it is in "
            f"vm_state {server['OS-EXT-STS:vm_state']}",
        )
    server["OS-EXT-STS:task_state"] = task_state
    if action.startswith("reboot"):
        server["status"] = "HARD_REBOOT" if action.endswith("HARD") else "REBOOT"
    cloud.touch(server)
    cloud.settle_later(server, **final, **{"OS-EXT-STS:task_state": None})
    server.pop("fault", None)
    return Reply(202)


@route(ROUTES, "POST", f"/servers/{_ID}/remote-consoles")
def remote_console(cloud: Cloud, request: Request) -> Reply:
    server = _server(cloud, request.params["id"])
    console = request.json("remote_console")
    if server["status"] != "ACTIVE":
        raise CloudError(409, f"Instance {server['id']} is not ready.")
    token = cloud.new_id()
    return Reply(
        200,
        {
            "remote_console": {
                "protocol": console.get("protocol", "vnc"),
                "type": console.get("type", "novnc"),
                "url": f"http://127.0.0.1:6080/vnc_auto.html?path=%3Ftoken%3D{token}",
            }
        },
    )


@route(ROUTES, "GET", f"/servers/{_ID}/os-volume_attachments")
def list_attachments(cloud: Cloud, request: Request) -> Reply:
    server = _server(cloud, request.params["id"])
    return Reply(200, {"volumeAttachments": _attachments_of(cloud, server["id"])})


@route(ROUTES, "POST", f"/servers/{_ID}/os-volume_attachments")
def attach_volume(cloud: Cloud, request: Request) -> Reply:
    server = _server(cloud, request.params["id"])
    body = request.json("volumeAttachment")
    volume = cloud.volumes.get(str(body.get("volumeId")))
    if volume is None:
        raise CloudError(404, f"Volume {body.get('volumeId')} could not be found.")
    if volume["status"] != "available":
        raise CloudError(400, f"Invalid volume: volume {volume['id']} status must be available")
    attachment = _attach(cloud, server, volume, body.get("device"))
    volume["status"] = "attaching"
    cloud.settle_later(volume, status="in-use")
    return Reply(200, {"volumeAttachment": attachment})


@route(ROUTES, "DELETE", rf"/servers/{_ID}/os-volume_attachments/(?P<volume>[0-9a-f-]+)")
def detach_volume(cloud: Cloud, request: Request) -> Reply:
    server = _server(cloud, request.params["id"])
    volume = cloud.volumes.get(request.params["volume"])
    if volume is None or not any(a["server_id"] == server["id"] for a in volume["attachments"]):
        raise CloudError(404, f"volume_id not found: {request.params['volume']}")
    if volume["status"] != "in-use":
        raise CloudError(409, f"Cannot detach volume {volume['id']} while it is {volume['status']}")
    volume["attachments"] = [a for a in volume["attachments"] if a["server_id"] != server["id"]]
    volume["status"] = "detaching"
    cloud.settle_later(volume, status="available")
    return Reply(202)


def _attach(cloud: Cloud, server: Resource, volume: Resource, device: str | None) -> Resource:
    used = {a["device"] for a in _attachments_of(cloud, server["id"])}
    if device is None or device in used:
        # Nova picks the next free name itself when the requested one is taken or absent.
        device = next(f"/dev/vd{c}" for c in "bcdefghijklmnop" if f"/dev/vd{c}" not in used)
    attachment_id = cloud.new_id()
    volume["attachments"].append(
        {
            "id": volume["id"],
            "attachment_id": attachment_id,
            "volume_id": volume["id"],
            "server_id": server["id"],
            "host_name": None,
            "device": device,
            "attached_at": cloud.timestamp(),
        }
    )
    if volume["status"] == "available":
        volume["status"] = "in-use"
    return payload(
        "volume_attachment",
        id=volume["id"],
        volumeId=volume["id"],
        serverId=server["id"],
        device=device,
        attachment_id=attachment_id,
        bdm_uuid=cloud.new_id(),
    )


def _attachments_of(cloud: Cloud, server_id: str) -> list[Resource]:
    return [
        payload(
            "volume_attachment",
            id=volume["id"],
            volumeId=volume["id"],
            serverId=server_id,
            device=attachment["device"],
            attachment_id=attachment["attachment_id"],
            bdm_uuid=attachment["attachment_id"],
        )
        for volume in cloud.volumes.values()
        for attachment in volume["attachments"]
        if attachment["server_id"] == server_id
    ]

"""Cinder v3 (microversions up to 3.70): volumes, their actions, and snapshots."""

from __future__ import annotations

from tests.openstack_cloud.payloads import payload
from tests.openstack_cloud.routing import CloudError, Reply, Request, Route, route
from tests.openstack_cloud.state import Cloud, Resource

ROUTES: list[Route] = []
_ID = r"(?P<id>[0-9a-f-]+)"
GIB = 1 << 30


def _volume(cloud: Cloud, volume_id: str) -> Resource:
    volume = cloud.volumes.get(volume_id)
    if volume is None or cloud.observe(volume) is None:
        cloud.volumes.pop(volume_id, None)
        raise CloudError(404, f"Volume {volume_id} could not be found.")
    return volume


def _snapshot(cloud: Cloud, snapshot_id: str) -> Resource:
    snapshot = cloud.snapshots.get(snapshot_id)
    if snapshot is None or cloud.observe(snapshot) is None:
        cloud.snapshots.pop(snapshot_id, None)
        raise CloudError(404, f"Snapshot {snapshot_id} could not be found.")
    return snapshot


def _live(cloud: Cloud, table: dict[str, Resource]) -> list[Resource]:
    listed = []
    for resource_id, resource in list(table.items()):
        if cloud.observe(resource) is None:
            del table[resource_id]
        else:
            listed.append(resource)
    return listed


def _filtered(resources: list[Resource], request: Request, *names: str) -> list[Resource]:
    for name in names:
        wanted = request.arg(name)
        if wanted is not None:
            resources = [r for r in resources if str(r.get(name)) == wanted]
    return resources


@route(ROUTES, "POST", "/volumes")
def create_volume(cloud: Cloud, request: Request) -> Reply:
    body = request.json("volume")
    size = int(body.get("size") or 0)
    bootable = "false"
    image_metadata: dict[str, str] | None = None
    if body.get("imageRef"):
        image = cloud.images.get(body["imageRef"])
        if image is None or image["status"] != "active":
            raise CloudError(
                400, f"Invalid image identifier or unable to access image {body['imageRef']}."
            )
        needed = image["virtual_size"] or image["size"] or 0
        if needed > size * GIB:
            raise CloudError(
                400,
                f"Invalid input received: Image virtual size is {-(-needed // GIB)}GB and "
                f"doesn't fit in a volume of size {size}GB.",
            )
        bootable = "true"
        image_metadata = {"image_id": image["id"], "image_name": image["name"]}
    if body.get("snapshot_id"):
        snapshot = _snapshot(cloud, body["snapshot_id"])
        if size < snapshot["size"]:
            raise CloudError(
                400,
                f"Invalid input received: Volume size '{size}'GB cannot be smaller than the "
                f"snapshot size {snapshot['size']}GB. They must be >= original snapshot size.",
            )
        origin = cloud.volumes.get(snapshot["volume_id"])
        bootable = origin["bootable"] if origin else "false"
    if size < 1:
        raise CloudError(400, "Invalid input received: size must be an integer and greater than 0")
    used = sum(v["size"] for v in cloud.volumes.values())
    if used + size > cloud.quotas.gigabytes:
        raise CloudError(
            413,
            f"VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
            f"gigabytes quota. Requested {size}G, quota is {cloud.quotas.gigabytes}G and "
            f"{used}G has been consumed.",
        )
    volume_id = cloud.new_id()
    volume = payload(
        "volume",
        id=volume_id,
        name=body.get("name"),
        description=body.get("description"),
        size=size,
        bootable=bootable,
        metadata=dict(body.get("metadata") or {}),
        snapshot_id=body.get("snapshot_id"),
        created_at=cloud.timestamp(),
    )
    if image_metadata is not None:
        volume["volume_image_metadata"] = image_metadata
    cloud.volumes[volume_id] = volume
    cloud.settle_later(volume, status="available")
    return Reply(202, {"volume": volume})


@route(ROUTES, "GET", "/volumes/detail")
def list_volumes(cloud: Cloud, request: Request) -> Reply:
    listed = _filtered(_live(cloud, cloud.volumes), request, "name", "status")
    return Reply(200, {"volumes": listed})


@route(ROUTES, "GET", f"/volumes/{_ID}")
def show_volume(cloud: Cloud, request: Request) -> Reply:
    return Reply(200, {"volume": _volume(cloud, request.params["id"])})


@route(ROUTES, "DELETE", f"/volumes/{_ID}")
def delete_volume(cloud: Cloud, request: Request) -> Reply:
    volume = _volume(cloud, request.params["id"])
    has_snapshots = any(s["volume_id"] == volume["id"] for s in _live(cloud, cloud.snapshots))
    if volume["status"] not in ("available", "error") or has_snapshots:
        raise CloudError(
            400,
            "Invalid volume: Volume status must be available or error or error_restoring or "
            "error_extending or error_managing and must not be migrating, attached, belong to "
            "a group, have snapshots or be disassociated from snapshots after volume transfer.",
        )
    volume["status"] = "deleting"
    cloud.settle_later(volume, _gone=True)
    return Reply(202)


@route(ROUTES, "POST", f"/volumes/{_ID}/action")
def volume_action(cloud: Cloud, request: Request) -> Reply:
    volume = _volume(cloud, request.params["id"])
    extend = request.json("os-extend")
    new_size = int(extend.get("new_size") or 0)
    online = request.microversion("volume") >= (3, 42)
    allowed = ("available", "in-use") if online else ("available",)
    if volume["status"] not in allowed:
        raise CloudError(
            400, f"Invalid volume: Volume status must be {' or '.join(allowed)} to extend."
        )
    if new_size <= volume["size"]:
        raise CloudError(
            400, "Invalid input received: New size for extend must be greater than current size."
        )
    before = volume["status"]
    volume.update(status="extending", size=new_size)
    cloud.settle_later(volume, status=before)
    return Reply(202)


@route(ROUTES, "POST", "/snapshots")
def create_snapshot(cloud: Cloud, request: Request) -> Reply:
    body = request.json("snapshot")
    volume = _volume(cloud, str(body.get("volume_id")))
    forced = str(body.get("force", False)).lower() == "true"
    if volume["status"] != "available" and not (forced and volume["status"] == "in-use"):
        raise CloudError(400, f"Invalid volume: Volume {volume['id']} status must be available.")
    snapshot_id = cloud.new_id()
    snapshot = payload(
        "snapshot",
        id=snapshot_id,
        name=body.get("name"),
        description=body.get("description"),
        size=volume["size"],
        volume_id=volume["id"],
        metadata=dict(body.get("metadata") or {}),
        created_at=cloud.timestamp(),
    )
    cloud.snapshots[snapshot_id] = snapshot
    cloud.settle_later(snapshot, status="available", progress="100%")
    return Reply(202, {"snapshot": snapshot})


@route(ROUTES, "GET", "/snapshots/detail")
def list_snapshots(cloud: Cloud, request: Request) -> Reply:
    listed = _filtered(_live(cloud, cloud.snapshots), request, "name", "volume_id", "status")
    return Reply(200, {"snapshots": listed})


@route(ROUTES, "GET", f"/snapshots/{_ID}")
def show_snapshot(cloud: Cloud, request: Request) -> Reply:
    return Reply(200, {"snapshot": _snapshot(cloud, request.params["id"])})


@route(ROUTES, "DELETE", f"/snapshots/{_ID}")
def delete_snapshot(cloud: Cloud, request: Request) -> Reply:
    snapshot = _snapshot(cloud, request.params["id"])
    snapshot["status"] = "deleting"
    cloud.settle_later(snapshot, _gone=True)
    return Reply(202)

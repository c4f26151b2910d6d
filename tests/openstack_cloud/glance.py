"""Glance v2: listing images, and creating one and uploading its data."""

from __future__ import annotations

import hashlib

from tests.openstack_cloud.payloads import payload
from tests.openstack_cloud.routing import CloudError, Reply, Request, Route, route
from tests.openstack_cloud.state import Cloud, Resource

ROUTES: list[Route] = []
_ID = r"(?P<id>[0-9a-f-]+)"
_CORE = {
    "name",
    "disk_format",
    "container_format",
    "visibility",
    "min_disk",
    "min_ram",
    "tags",
    "protected",
    "id",
}


def _image(cloud: Cloud, image_id: str) -> Resource:
    image = cloud.images.get(image_id)
    if image is None:
        raise CloudError(404, f"No image found with ID {image_id}")
    return image


@route(ROUTES, "GET", "/images")
def list_images(cloud: Cloud, request: Request) -> Reply:
    images = list(cloud.images.values())
    for name in ("name", "status", "visibility"):
        wanted = request.arg(name)
        if wanted is not None:
            images = [i for i in images if i.get(name) == wanted]
    return Reply(200, {"images": images, "schema": "/v2/schemas/images", "first": "/v2/images"})


@route(ROUTES, "GET", f"/images/{_ID}")
def show_image(cloud: Cloud, request: Request) -> Reply:
    return Reply(200, _image(cloud, request.params["id"]))


@route(ROUTES, "POST", "/images")
def create_image(cloud: Cloud, request: Request) -> Reply:
    body = request.body if isinstance(request.body, dict) else {}
    image_id = str(body.get("id") or cloud.new_id())
    if image_id in cloud.images:
        raise CloudError(409, f"Image with identifier {image_id} already exists!")
    stamp = cloud.timestamp()
    image = payload(
        "image",
        id=image_id,
        name=body.get("name"),
        status="queued",
        visibility=body.get("visibility", "shared"),
        disk_format=body.get("disk_format"),
        container_format=body.get("container_format"),
        tags=list(body.get("tags") or []),
        created_at=stamp,
        updated_at=stamp,
        self=f"/v2/images/{image_id}",
        file=f"/v2/images/{image_id}/file",
    )
    image.update({k: v for k, v in body.items() if k not in _CORE})  # custom properties
    cloud.images[image_id] = image
    return Reply(201, image)


@route(ROUTES, "PUT", f"/images/{_ID}/file")
def upload_image(cloud: Cloud, request: Request) -> Reply:
    image = _image(cloud, request.params["id"])
    if image["status"] != "queued":
        raise CloudError(
            409, f"Image status transition from {image['status']} to saving is not allowed"
        )
    data = request.body if isinstance(request.body, bytes) else b""
    cloud.image_data[image["id"]] = data
    virtual_size = image.get("cloudplane_virtual_size")
    image.update(
        status="active",
        size=len(data),
        virtual_size=int(virtual_size) if virtual_size else len(data),
        checksum=hashlib.md5(data, usedforsecurity=False).hexdigest(),
        os_hash_algo="sha512",
        os_hash_value=hashlib.sha512(data).hexdigest(),
    )
    cloud.touch(image)
    return Reply(204)


@route(ROUTES, "DELETE", f"/images/{_ID}")
def delete_image(cloud: Cloud, request: Request) -> Reply:
    _image(cloud, request.params["id"])
    del cloud.images[request.params["id"]]
    cloud.image_data.pop(request.params["id"], None)
    return Reply(204)

"""Glance images for cloudplane's images (blocking; run through ``CloudCalls``).

An image imported from the cloud keeps the Glance id as its cloudplane id, so it is found by
id. An image uploaded to cloudplane is not in Glance yet: the first server or volume made
from it creates the Glance image under the same id and uploads the file cloudplane keeps.
"""

from __future__ import annotations

import os
from typing import Any

from openstack import exceptions as sdk_exceptions

from cloudplane.drivers.base import ImageRef
from cloudplane.drivers.errors import DriverError
from cloudplane.drivers.openstack.names import ID_KEY
from cloudplane.drivers.storage_contract import ImageSource


def ensure_glance_image(conn: Any, image: ImageRef | ImageSource) -> str:
    """The id of the active Glance image for ``image``, uploading it first if needed."""
    image_id = image.id if isinstance(image, ImageRef) else image.image_id
    path = image.path
    found = _find_image(conn, image_id)
    if found is not None and found.status == "active":
        return str(found.id)
    if path is None or not os.path.isfile(path):
        raise DriverError(
            f"image {image_id} is neither in the cloud nor in cloudplane's store",
            code="image_unavailable",
        )
    if found is None:
        body = {
            "id": image_id,
            "name": f"cloudplane-{image_id}",
            "disk_format": image.disk_format,
            "container_format": "bare",
            "visibility": "private",
            ID_KEY: image_id,
        }
        if isinstance(image, ImageSource):
            body["cloudplane_virtual_size"] = str(image.virtual_size_bytes)
        sdk_exceptions.raise_from_response(conn.image.post("/images", json=body))
    with open(path, "rb") as data:
        response = conn.image.put(
            f"/images/{image_id}/file",
            data=data,
            headers={"Content-Type": "application/octet-stream"},
        )
    sdk_exceptions.raise_from_response(response)
    return image_id


def find_default_image(conn: Any, name_or_id: str) -> str:
    """The id of the configured default image; ``image_unavailable`` when it is missing."""
    found = _find_image(conn, name_or_id)
    if found is None:
        raise DriverError(
            f"the default image {name_or_id!r} is not in the cloud", code="image_unavailable"
        )
    return str(found.id)


def _find_image(conn: Any, name_or_id: str) -> Any:
    """The image with that id or name, or ``None``."""
    try:
        return conn.image.find_image(name_or_id, ignore_missing=False)
    except sdk_exceptions.NotFoundException:
        return None

"""Plain functions that make images and image files for the image API tests."""

from __future__ import annotations

import asyncio
import random
import struct
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from tests.support.api import ApiSession

OCTET_STREAM = {"Content-Type": "application/octet-stream"}
KiB = 1024
MiB = 1024 * KiB


def random_bytes(size: int, *, seed: int = 7) -> bytes:
    """``size`` reproducible bytes that start with a zero, so they never look like qcow2."""
    data = random.Random(seed).randbytes(size)
    return b"\x00" + data[1:] if data else data


def qcow2_bytes(*, version: int = 3, size: int = 4 * KiB) -> bytes:
    """A qcow2 header (magic and version) padded to ``size``: enough for the format check."""
    return struct.pack(">4sI", b"QFI\xfb", version).ljust(size, b"\x00")


def iso_bytes(*, size: int = 40 * KiB) -> bytes:
    """Bytes with the ISO 9660 primary volume descriptor's signature where it belongs."""
    data = bytearray(size)
    data[0x8000:0x8006] = b"\x01CD001"
    return bytes(data)


async def chunked(data: bytes, chunk_size: int = 64 * KiB) -> AsyncIterator[bytes]:
    """``data`` as a streamed request body (sent with chunked transfer encoding)."""
    for start in range(0, len(data), chunk_size):
        await asyncio.sleep(0)
        yield data[start : start + chunk_size]


async def create_image(api: ApiSession, **fields: Any) -> dict[str, Any]:
    """A queued image (201) in ``api``'s project; ``fields`` override the defaults."""
    body = {"name": f"img-{uuid.uuid4().hex[:8]}", "disk_format": "raw", **fields}
    response = await api.post("/images", json=body)
    assert response.status_code == 201, response.text
    image: dict[str, Any] = response.json()
    return image


async def upload(api: ApiSession, image_id: str, data: bytes) -> httpx.Response:
    """PUT ``data`` as the image's file, streamed in chunks."""
    return await api.put(f"/images/{image_id}/file", content=chunked(data), headers=OCTET_STREAM)


async def active_image(api: ApiSession, data: bytes | None = None, **fields: Any) -> dict[str, Any]:
    """An image whose file has been uploaded (active)."""
    image = await create_image(api, **fields)
    response = await upload(api, image["id"], data if data is not None else random_bytes(8 * KiB))
    assert response.status_code == 204, response.text
    shown = await api.get(f"/images/{image['id']}")
    assert shown.json()["status"] == "active", shown.text
    body: dict[str, Any] = shown.json()
    return body

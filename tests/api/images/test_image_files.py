"""Image files: streamed upload and download, the seeded tiny image, and the upload state rules."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.types import Message, Scope
from tests.api.images.image_factories import (
    OCTET_STREAM,
    MiB,
    active_image,
    chunked,
    create_image,
    random_bytes,
    upload,
)
from tests.support.api import ApiSession, assert_error
from tests.support.factories import new_project_member

from cloudplane.images.storage import ImageStore


async def _wait_for_status(api: ApiSession, image_id: str, status: str) -> None:
    for _ in range(500):
        if (await api.get(f"/images/{image_id}")).json()["status"] == status:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"image {image_id} never became {status}")


async def test_a_multi_mib_upload_streams_in_and_downloads_byte_for_byte(
    admin: ApiSession,
) -> None:
    data = random_bytes(5 * MiB + 12345)
    image = await create_image(admin, disk_format="raw")
    assert image["status"] == "queued"
    assert image["size_bytes"] is None
    assert image["checksum_sha256"] is None

    response = await upload(admin, image["id"], data)

    assert response.status_code == 204, response.text
    assert response.content == b""
    shown = (await admin.get(f"/images/{image['id']}")).json()
    digest = hashlib.sha256(data).hexdigest()
    assert shown["status"] == "active"
    assert shown["size_bytes"] == len(data)
    assert shown["checksum_sha256"] == digest
    download = await admin.get(f"/images/{image['id']}/file")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-length"] == str(len(data))
    assert download.headers["etag"] == f'"{digest}"'
    expected_digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert download.headers["repr-digest"] == f"sha-256=:{expected_digest}:"
    assert hashlib.sha256(download.content).hexdigest() == digest
    assert download.content == data


async def test_the_seeded_tiny_image_is_listed_active_and_downloads_as_qcow2(
    admin: ApiSession,
) -> None:
    stranger = await new_project_member(admin)
    for api in (admin, stranger):
        listed = (await api.get("/images", params={"name": "tiny"})).json()["items"]
        assert len(listed) == 1
        tiny = listed[0]
        assert tiny["status"] == "active"
        assert tiny["disk_format"] == "qcow2"
        assert tiny["visibility"] == "public"
        download = await api.get(f"/images/{tiny['id']}/file")
        assert download.status_code == 200
        assert download.content[:4] == b"QFI\xfb"
        assert len(download.content) == tiny["size_bytes"]
        assert hashlib.sha256(download.content).hexdigest() == tiny["checksum_sha256"]


async def test_uploading_to_an_image_that_already_has_a_file_is_a_conflict(
    admin: ApiSession,
) -> None:
    image = await active_image(admin, random_bytes(4096))

    second = await upload(admin, image["id"], random_bytes(4096, seed=8))

    error = assert_error(second, 409, "conflict")
    assert error["details"]["status"] == "active"
    download = await admin.get(f"/images/{image['id']}/file")
    assert download.content == random_bytes(4096)


async def test_two_concurrent_uploads_to_one_queued_image_give_one_204_and_one_409(
    admin: ApiSession,
) -> None:
    image = await create_image(admin, disk_format="raw")
    both_started = asyncio.Event()
    bodies = [random_bytes(2 * MiB, seed=1), random_bytes(2 * MiB, seed=2)]

    async def held_body(data: bytes) -> AsyncIterator[bytes]:
        # Neither body flows until both requests are in, so the two claims really overlap.
        await both_started.wait()
        async for chunk in chunked(data):
            yield chunk

    uploads = [
        asyncio.create_task(
            admin.put(f"/images/{image['id']}/file", content=held_body(body), headers=OCTET_STREAM)
        )
        for body in bodies
    ]
    await asyncio.sleep(0.05)
    both_started.set()
    responses = await asyncio.gather(*uploads)

    assert sorted(r.status_code for r in responses) == [204, 409]
    loser = next(r for r in responses if r.status_code == 409)
    assert assert_error(loser, 409, "conflict")["details"]["status"] in ("saving", "active")
    winner_body = bodies[[r.status_code for r in responses].index(204)]
    shown = (await admin.get(f"/images/{image['id']}")).json()
    assert shown["status"] == "active"
    assert shown["checksum_sha256"] == hashlib.sha256(winner_body).hexdigest()


async def test_an_upload_in_progress_shows_saving_and_turns_away_a_second_upload(
    admin: ApiSession,
) -> None:
    image = await create_image(admin, disk_format="raw")
    release = asyncio.Event()
    data = random_bytes(3 * MiB)

    async def paused_body() -> AsyncIterator[bytes]:
        yield data[:MiB]
        await release.wait()
        yield data[MiB:]

    first = asyncio.create_task(
        admin.put(f"/images/{image['id']}/file", content=paused_body(), headers=OCTET_STREAM)
    )
    await _wait_for_status(admin, image["id"], "saving")

    second = await upload(admin, image["id"], random_bytes(1024))
    assert assert_error(second, 409, "conflict")["details"]["status"] == "saving"
    download = await admin.get(f"/images/{image['id']}/file")
    assert assert_error(download, 409, "conflict")["details"]["status"] == "saving"

    release.set()
    assert (await first).status_code == 204
    shown = (await admin.get(f"/images/{image['id']}")).json()
    assert shown["status"] == "active"
    assert shown["checksum_sha256"] == hashlib.sha256(data).hexdigest()


async def test_downloading_an_image_without_a_file_is_a_conflict(admin: ApiSession) -> None:
    image = await create_image(admin)

    response = await admin.get(f"/images/{image['id']}/file")

    assert assert_error(response, 409, "conflict")["details"]["status"] == "queued"


async def test_an_active_image_whose_file_is_gone_answers_unavailable_not_500(
    admin: ApiSession,
) -> None:
    image = await active_image(admin, random_bytes(4096))
    ImageStore(admin.runtime.settings.images_dir).path_for(image["id"]).unlink()

    response = await admin.get(f"/images/{image['id']}/file")

    assert assert_error(response, 503, "unavailable")["details"] == {"image_id": image["id"]}
    assert response.headers["Retry-After"]
    assert (await admin.get(f"/images/{image['id']}")).json()["status"] == "active"


async def test_an_upload_that_is_not_an_octet_stream_is_refused_and_changes_nothing(
    admin: ApiSession,
) -> None:
    image = await create_image(admin)

    response = await admin.put(
        f"/images/{image['id']}/file",
        content=b'{"not": "a disk"}',
        headers={"Content-Type": "application/json"},
    )

    assert_error(response, 415, "bad_request")
    assert (await admin.get(f"/images/{image['id']}")).json()["status"] == "queued"


async def test_an_upload_without_a_content_type_counts_as_an_octet_stream(
    admin: ApiSession,
) -> None:
    image = await create_image(admin)

    response = await admin.put(f"/images/{image['id']}/file", content=random_bytes(2048))

    assert response.status_code == 204, response.text


async def test_the_stored_file_is_where_the_image_store_says(admin: ApiSession) -> None:
    data = random_bytes(10_000)
    image = await active_image(admin, data)

    path = ImageStore(admin.runtime.settings.images_dir).path_for(image["id"])

    assert path.read_bytes() == data
    leftovers = [p.name for p in path.parent.iterdir() if p.name.endswith(".partial")]
    assert leftovers == []


async def test_a_client_that_disconnects_mid_upload_leaves_the_image_queued_and_no_file(
    admin: ApiSession, app: FastAPI
) -> None:
    image = await create_image(admin, disk_format="raw")
    incoming: list[Message] = [
        {"type": "http.request", "body": random_bytes(MiB), "more_body": True},
        {"type": "http.request", "body": random_bytes(MiB, seed=3), "more_body": True},
        {"type": "http.disconnect"},
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    path = f"/api/v1/images/{image['id']}/file"
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"cloudplane.test"),
            (b"authorization", f"Bearer {admin.token}".encode()),
            (b"content-type", b"application/octet-stream"),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("cloudplane.test", 80),
    }
    await app(scope, receive, send)

    assert sent[0]["status"] == 400
    assert (await admin.get(f"/images/{image['id']}")).json()["status"] == "queued"
    images_dir = admin.runtime.settings.images_dir
    assert [p.name for p in images_dir.iterdir() if image["id"] in p.name] == []
    assert (await upload(admin, image["id"], random_bytes(4096))).status_code == 204


async def test_deleting_an_image_while_its_file_uploads_leaves_neither_behind(
    admin: ApiSession,
) -> None:
    image = await create_image(admin, disk_format="raw")
    release = asyncio.Event()

    async def paused_body() -> AsyncIterator[bytes]:
        yield random_bytes(MiB)
        await release.wait()
        yield random_bytes(MiB, seed=4)

    uploading = asyncio.create_task(
        admin.put(f"/images/{image['id']}/file", content=paused_body(), headers=OCTET_STREAM)
    )
    await _wait_for_status(admin, image["id"], "saving")

    assert (await admin.delete(f"/images/{image['id']}")).status_code == 204
    release.set()

    assert_error(await uploading, 404, "not_found")
    images_dir = admin.runtime.settings.images_dir
    assert [p.name for p in images_dir.iterdir() if image["id"] in p.name] == []
    shown = await admin.get(f"/images/{image['id']}", params={"deleted": "true"})
    assert shown.json()["status"] == "deleted"

"""Block-storage routes of the fake cloudplane API: volumes, snapshots, attachments, pools, types.

Bodies follow API.md and the server's schemas (``VolumeOut``, ``SnapshotOut``,
``AttachmentAccepted``, ``StoragePoolOut``, ``VolumeTypeOut``); state lives in
:class:`FakeCloudplane`.
"""

from __future__ import annotations

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
DEVICES = [f"vd{letter}" for letter in "bcdefghijklmnopqrstuvwxyz"]


def add_storage_routes(app: FastAPI, fake: FakeCloudplane) -> None:
    """Register every block-storage route on ``app``."""
    add_volume_routes(app, fake)
    add_attachment_routes(app, fake)
    add_snapshot_routes(app, fake)
    add_pool_routes(app, fake)


def conflict(message: str, status: str) -> FakeApiError:
    return FakeApiError(409, "conflict", message, {"status": status})


def add_volume_routes(app: FastAPI, fake: FakeCloudplane) -> None:
    @app.post(f"{API}/volumes")
    async def create_volume(request: Request) -> Response:
        body = await body_of(request, fake)
        if any(v["name"] == body["name"] for v in fake.store["volumes"].values()):
            raise FakeApiError(409, "conflict", f"a volume is already named {body['name']}")
        fields = {key: value for key, value in body.items() if key != "name"}
        fields["volume_type"] = fields.get("volume_type") or "standard"
        fields["bootable"] = fields.get("image_id") is not None
        volume = fake.add_volume(body["name"], status="creating", **fields)

        def succeed() -> None:
            volume["status"] = "available"

        def fail() -> None:
            volume.update(status="error", error="the storage said no")

        operation = fake.start_operation(
            "create", volume["id"], succeed, fail, resource_type="volume"
        )
        return accepted_response(volume, operation)

    @app.patch(f"{API}/volumes/{{volume_id}}")
    async def update_volume(volume_id: str, request: Request) -> Json:
        volume = fake.get_or_404("volumes", volume_id)
        volume.update(await body_of(request, fake))
        return volume

    @app.post(f"{API}/volumes/{{volume_id}}/extend")
    async def extend_volume(volume_id: str, request: Request) -> Response:
        volume = fake.get_or_404("volumes", volume_id)
        size_gb = (await body_of(request, fake))["size_gb"]
        if size_gb <= volume["size_gb"]:
            raise conflict(f"volume {volume_id} is already {volume['size_gb']} GB", "available")
        settled = volume["status"]
        volume["status"] = "extending"

        def succeed() -> None:
            volume.update(status=settled, size_gb=size_gb)

        def fail() -> None:
            volume["status"] = "error"

        operation = fake.start_operation("extend", volume_id, succeed, fail, resource_type="volume")
        return accepted_response(volume, operation)

    @app.delete(f"{API}/volumes/{{volume_id}}")
    async def delete_volume(volume_id: str) -> Response:
        volume = fake.get_or_404("volumes", volume_id)
        if volume["attachments"]:
            raise conflict(f"volume {volume_id} is attached; detach it first", volume["status"])
        volume["status"] = "deleting"

        def succeed() -> None:
            fake.store["volumes"].pop(volume_id, None)

        def fail() -> None:
            volume["status"] = "error"

        operation = fake.start_operation("delete", volume_id, succeed, fail, resource_type="volume")
        return accepted_response(volume, operation)


def add_attachment_routes(app: FastAPI, fake: FakeCloudplane) -> None:
    @app.post(f"{API}/servers/{{server_id}}/volumes")
    async def attach_volume(server_id: str, request: Request) -> Response:
        server = fake.get_or_404("servers", server_id)
        body = await body_of(request, fake)
        volume = fake.get_or_404("volumes", body["volume_id"])
        if volume["status"] != "available":
            raise conflict(f"cannot attach a volume that is {volume['status']}", volume["status"])
        taken = {entry["device"] for entry in server["volumes"]}
        device = body.get("device") or next(name for name in DEVICES if name not in taken)
        volume.update(status="attaching", attachments=[{"server_id": server_id, "device": device}])

        def succeed() -> None:
            volume["status"] = "in-use"
            server["volumes"].append({"volume_id": volume["id"], "device": device, "boot": False})

        def fail() -> None:
            volume.update(status="available", attachments=[])

        operation = fake.start_operation(
            "attach", volume["id"], succeed, fail, resource_type="volume"
        )
        answer = {"volume": dict(volume), "server_id": server_id, "device": device}
        return accepted_response(answer, operation)

    @app.delete(f"{API}/servers/{{server_id}}/volumes/{{volume_id}}")
    async def detach_volume(server_id: str, volume_id: str) -> Response:
        server = fake.get_or_404("servers", server_id)
        volume = fake.get_or_404("volumes", volume_id)
        attached = [entry for entry in volume["attachments"] if entry["server_id"] == server_id]
        if not attached:
            raise FakeApiError(404, "not_found", f"volume {volume_id} is not on {server_id}")
        volume["status"] = "detaching"

        def succeed() -> None:
            volume.update(status="available", attachments=[])
            server["volumes"] = [v for v in server["volumes"] if v["volume_id"] != volume_id]

        def fail() -> None:
            volume["status"] = "in-use"

        operation = fake.start_operation("detach", volume_id, succeed, fail, resource_type="volume")
        answer = {"volume": dict(volume), "server_id": server_id, "device": attached[0]["device"]}
        return accepted_response(answer, operation)


def add_snapshot_routes(app: FastAPI, fake: FakeCloudplane) -> None:
    @app.post(f"{API}/snapshots")
    async def create_snapshot(request: Request) -> Response:
        body = await body_of(request, fake)
        volume = fake.get_or_404("volumes", body["volume_id"])
        snapshot = fake.add(
            "snapshots",
            **{"description": "", **body},
            project_id=fake.project_id,
            size_gb=volume["size_gb"],
            status="creating",
            error=None,
            deleted_at=None,
        )

        def succeed() -> None:
            snapshot["status"] = "available"

        def fail() -> None:
            snapshot["status"] = "error"

        operation = fake.start_operation(
            "create", snapshot["id"], succeed, fail, resource_type="snapshot"
        )
        return accepted_response(snapshot, operation)

    @app.patch(f"{API}/snapshots/{{snapshot_id}}")
    async def update_snapshot(snapshot_id: str, request: Request) -> Json:
        snapshot = fake.get_or_404("snapshots", snapshot_id)
        snapshot.update(await body_of(request, fake))
        return snapshot

    @app.delete(f"{API}/snapshots/{{snapshot_id}}")
    async def delete_snapshot(snapshot_id: str) -> Response:
        snapshot = fake.get_or_404("snapshots", snapshot_id)
        snapshot["status"] = "deleting"

        def succeed() -> None:
            fake.store["snapshots"].pop(snapshot_id, None)

        def fail() -> None:
            snapshot["status"] = "error"

        operation = fake.start_operation(
            "delete", snapshot_id, succeed, fail, resource_type="snapshot"
        )
        return accepted_response(snapshot, operation)


def add_pool_routes(app: FastAPI, fake: FakeCloudplane) -> None:
    @app.post(f"{API}/storage-pools")
    async def create_pool(request: Request) -> Response:
        body = await body_of(request, fake)
        capacity_gb = body.get("capacity_gb") or 100
        pool = fake.add(
            "storage-pools",
            **{"path": f"/mnt/{body['name']}", "export": None, **body, "capacity_gb": capacity_gb},
            allocated_gb=0,
            available_gb=capacity_gb,
            status="active",
            deleted_at=None,
        )
        return JSONResponse(pool, status_code=201)

    @app.post(f"{API}/volume-types")
    async def create_volume_type(request: Request) -> Response:
        body = await body_of(request, fake)
        fake.get_or_404("storage-pools", body["storage_pool_id"])
        volume_type = fake.add(
            "volume-types", **{"description": "", "is_default": False, **body}, deleted_at=None
        )
        return JSONResponse(volume_type, status_code=201)

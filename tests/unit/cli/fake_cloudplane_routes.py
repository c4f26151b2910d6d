"""The HTTP routes of the fake cloudplane API (state lives in :class:`FakeCloudplane`)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from tests.unit.cli.fake_cloudplane_api import (
    FakeApiError,
    FakeCloudplane,
    Json,
    ReceivedUpload,
    body_of,
    error_response,
    new_id,
    page_of,
    rfc3339,
)
from tests.unit.cli.fake_cloudplane_network_routes import add_network_routes
from tests.unit.cli.fake_cloudplane_storage_routes import add_storage_routes

PUBLIC_PATHS = {"/api/v1/auth/token", "/api/v1/auth/refresh"}
# action → (statuses it is allowed from, status in flight, task_state in flight, status after)
ACTIONS = {
    "start": ({"SHUTOFF"}, "SHUTOFF", "powering_on", "ACTIVE"),
    "stop": ({"ACTIVE"}, "ACTIVE", "powering_off", "SHUTOFF"),
    "pause": ({"ACTIVE"}, "ACTIVE", "pausing", "PAUSED"),
    "resume": ({"PAUSED"}, "PAUSED", "unpausing", "ACTIVE"),
    "reboot": ({"ACTIVE"}, "REBOOT", "rebooting", "ACTIVE"),
}


def build_app(fake: FakeCloudplane) -> FastAPI:
    """A FastAPI app whose every route reads and changes ``fake`` at request time."""
    app = FastAPI()

    @app.exception_handler(FakeApiError)
    async def render_failure(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, FakeApiError)
        return error_response(exc.http_status, exc.code, exc.message, exc.details)

    @app.middleware("http")
    async def authenticate(request: Request, call_next: Any) -> Response:
        path = request.url.path
        fake.requests.append(
            (request.method, path, dict(request.query_params), dict(request.headers))
        )
        if path.startswith("/api/v1/") and path not in PUBLIC_PATHS:
            header = request.headers.get("authorization", "")
            expires = fake.access_tokens.get(header.removeprefix("Bearer "))
            if not header.startswith("Bearer ") or expires is None:
                return error_response(401, "unauthorized", "a valid bearer token is required")
            if expires <= datetime.now(UTC):
                return error_response(401, "unauthorized", "the token has expired")
        response: Response = await call_next(request)
        response.headers.setdefault("X-Request-ID", f"req-{new_id()}")
        return response

    add_identity_routes(app, fake)
    add_odd_routes(app, fake)
    # Before the server routes: POST /servers/{id}/volumes would match a server action.
    add_storage_routes(app, fake)
    add_network_routes(app, fake)
    add_server_routes(app, fake)
    add_image_routes(app, fake)
    add_generic_routes(app, fake)
    return app


def token_pair(fake: FakeCloudplane) -> Json:
    refresh = f"refresh-{new_id()}"
    fake.refresh_tokens.add(refresh)
    access = fake.issue_token()
    return {
        "access_token": access,
        "token_type": "bearer",
        "expires_at": rfc3339(fake.access_tokens[access]),
        "refresh_token": refresh,
        "project_id": fake.project_id,
        "roles": ["member"],
    }


def add_identity_routes(app: FastAPI, fake: FakeCloudplane) -> None:
    @app.post("/api/v1/auth/token")
    async def token(request: Request) -> Response:
        body = await body_of(request, fake)
        if fake.passwords.get(body.get("username")) != body.get("password"):
            raise FakeApiError(401, "unauthorized", "wrong username or password")
        return JSONResponse(token_pair(fake))

    @app.post("/api/v1/auth/refresh")
    async def refresh(request: Request) -> Response:
        body = await body_of(request, fake)
        if body.get("refresh_token") not in fake.refresh_tokens:
            raise FakeApiError(401, "unauthorized", "unknown refresh token")
        fake.refresh_tokens.discard(body["refresh_token"])
        return JSONResponse(token_pair(fake))

    @app.get("/api/v1/auth/whoami")
    async def whoami() -> Json:
        return {
            "user": {"id": fake.user_id, "username": "alice"},
            "project_id": fake.project_id,
            "roles": ["member"],
        }

    @app.get("/api/v1/projects/{project_id}/quotas")
    async def get_quota(project_id: str) -> Json:
        return fake.quotas.setdefault(project_id, {"servers": 10, "vcpus": 20, "in_use": {}})

    @app.put("/api/v1/projects/{project_id}/quotas")
    async def put_quota(project_id: str, request: Request) -> Json:
        limits = await body_of(request, fake)
        in_use = fake.quotas.get(project_id, {}).get("in_use", {})
        fake.quotas[project_id] = {**limits, "in_use": in_use}
        return fake.quotas[project_id]

    @app.put("/api/v1/projects/{project_id}/members/{user_id}")
    async def add_member(project_id: str, user_id: str, request: Request) -> Response:
        fake.members[(project_id, user_id)] = (await body_of(request, fake))["role"]
        return Response(status_code=204)

    @app.delete("/api/v1/projects/{project_id}/members/{user_id}")
    async def remove_member(project_id: str, user_id: str) -> Response:
        fake.members.pop((project_id, user_id), None)
        return Response(status_code=204)


def add_odd_routes(app: FastAPI, fake: FakeCloudplane) -> None:
    """Routes that misbehave on purpose, to test the client's defences."""

    @app.get("/api/v1/broken")
    async def broken() -> Response:
        return Response("<html>Bad Gateway</html>", status_code=502, media_type="text/html")

    @app.get("/api/v1/looping")
    async def looping() -> Json:
        return {"items": [{"id": "same"}], "next_marker": "same"}

    @app.get("/api/v1/flaky")
    async def flaky() -> Response:
        if fake.unavailable_before_success > 0:
            fake.unavailable_before_success -= 1
            return error_response(503, "unavailable", "the database is down")
        return JSONResponse({"ok": True})


def server_or_404(fake: FakeCloudplane, server_id: str) -> Json:
    server = fake.store["servers"].get(server_id)
    if server is None:
        raise FakeApiError(404, "not_found", f"no server {server_id}")
    return server


def accepted(server: Json, operation: Json) -> Response:
    return JSONResponse(
        {**server, "operation_id": operation["id"]},
        status_code=202,
        headers={"Location": f"/api/v1/operations/{operation['id']}"},
    )


def add_server_routes(app: FastAPI, fake: FakeCloudplane) -> None:
    @app.post("/api/v1/servers")
    async def create_server(request: Request) -> Response:
        body = await body_of(request, fake)
        if not body.get("name"):
            errors = {"errors": [{"field": "body.name", "reason": "field required"}]}
            raise FakeApiError(422, "validation_error", "the request is not valid", errors)
        if any(s["name"] == body["name"] for s in fake.store["servers"].values()):
            raise FakeApiError(409, "conflict", f"a server is already named {body['name']}")
        fields = {k: v for k, v in body.items() if k not in {"name", "user_data"}}
        server = fake.add_server(body["name"], status="BUILD", task_state="spawning", **fields)
        server["power_state"] = "nostate"

        def succeed() -> None:
            server.update(status="ACTIVE", task_state=None, power_state="running")
            server["addresses"] = [{"network_id": "n", "port_id": "p", "ip": "10.0.0.5"}]

        def fail() -> None:
            fault = {"code": 500, "message": "the hypervisor said no", "at": server["created_at"]}
            server.update(status="ERROR", task_state=None, fault=fault)

        return accepted(server, fake.start_operation("create", server["id"], succeed, fail))

    @app.post("/api/v1/servers/{server_id}/{action}")
    async def act(server_id: str, action: str, request: Request) -> Response:
        server = server_or_404(fake, server_id)
        body = await body_of(request, fake)
        allowed, during, task, after = ACTIONS[action]
        if server["status"] not in allowed or server["task_state"] is not None:
            message = f"cannot {action} a server that is {server['status']}"
            raise FakeApiError(409, "conflict", message, {"status": server["status"]})
        hard = action == "reboot" and (body or {}).get("type") == "hard"
        server.update(status="HARD_REBOOT" if hard else during, task_state=task)

        def succeed() -> None:
            power = {"ACTIVE": "running", "SHUTOFF": "shutdown", "PAUSED": "paused"}[after]
            server.update(status=after, task_state=None, power_state=power)

        def fail() -> None:
            server.update(status="ERROR", task_state=None, fault={"message": "no"})

        return accepted(server, fake.start_operation(action, server_id, succeed, fail))

    @app.patch("/api/v1/servers/{server_id}")
    async def update_server(server_id: str, request: Request) -> Json:
        server = server_or_404(fake, server_id)
        server.update(await body_of(request, fake))
        return server

    @app.delete("/api/v1/servers/{server_id}")
    async def delete_server(server_id: str) -> Response:
        server = server_or_404(fake, server_id)
        server.update(status="DELETING", task_state="deleting")

        def succeed() -> None:
            fake.store["servers"].pop(server_id, None)

        def fail() -> None:
            server.update(status="ERROR", task_state=None)

        return accepted(server, fake.start_operation("delete", server_id, succeed, fail))

    @app.get("/api/v1/operations/{operation_id}")
    async def show_operation(operation_id: str) -> Json:
        operation = fake.store["operations"].get(operation_id)
        if operation is None:
            raise FakeApiError(404, "not_found", f"no operation {operation_id}")
        fake.advance(operation)
        return operation


def add_image_routes(app: FastAPI, fake: FakeCloudplane) -> None:
    @app.post("/api/v1/images")
    async def create_image(request: Request) -> Response:
        body = await body_of(request, fake)
        image = fake.add(
            "images",
            status="queued",
            size_bytes=None,
            checksum_sha256=None,
            project_id=fake.project_id,
            **body,
        )
        return JSONResponse(image, status_code=201)

    @app.put("/api/v1/images/{image_id}/file")
    async def upload(image_id: str, request: Request) -> Response:
        image = fake.store["images"][image_id]
        digest, data, chunks = hashlib.sha256(), bytearray(), 0
        async for chunk in request.stream():
            if chunk:
                chunks += 1
                digest.update(chunk)
                data.extend(chunk)
        if fake.refused_uploads:
            reason = "the data does not start with the qcow2 magic"
            errors = {"errors": [{"field": "disk_format", "reason": reason}]}
            raise FakeApiError(422, "validation_error", reason, errors)
        fake.files[image_id] = bytes(data)
        fake.uploads[image_id] = ReceivedUpload(
            size_bytes=len(data),
            sha256=digest.hexdigest(),
            chunks=chunks,
            content_length=request.headers.get("content-length"),
            content_type=request.headers.get("content-type"),
        )
        image.update(status="active", size_bytes=len(data), checksum_sha256=digest.hexdigest())
        return Response(status_code=204)

    @app.get("/api/v1/images/{image_id}/file")
    async def download(image_id: str) -> Response:
        if image_id not in fake.files:
            raise FakeApiError(404, "not_found", f"image {image_id} has no data")
        data = fake.files[image_id]

        async def pieces() -> AsyncIterator[bytes]:
            for start in range(0, len(data), 65536):
                yield data[start : start + 65536]

        return StreamingResponse(pieces(), media_type="application/octet-stream")


def add_generic_routes(app: FastAPI, fake: FakeCloudplane) -> None:
    @app.get("/api/v1/{kind}")
    async def list_items(kind: str, request: Request) -> Json:
        if kind not in fake.store:
            raise FakeApiError(404, "not_found", f"no collection {kind}")
        return page_of(list(fake.store[kind].values()), dict(request.query_params))

    @app.get("/api/v1/{kind}/{item_id}")
    async def show_item(kind: str, item_id: str) -> Json:
        item = fake.store.get(kind, {}).get(item_id)
        if item is None:
            raise FakeApiError(404, "not_found", f"no {kind} {item_id}")
        fake.observe(item)
        return item

    @app.post("/api/v1/{kind}")
    async def create_item(kind: str, request: Request) -> Response:
        body = dict(await body_of(request, fake))
        body.pop("password", None)
        if kind == "api-keys":
            body["secret"] = f"cpk_{new_id()}"
            fake.access_tokens[body["secret"]] = datetime.max.replace(tzinfo=UTC)
        return JSONResponse(fake.add(kind, **body), status_code=201)

    @app.delete("/api/v1/{kind}/{item_id}")
    async def delete_item(kind: str, item_id: str) -> Response:
        if fake.store.get(kind, {}).pop(item_id, None) is None:
            raise FakeApiError(404, "not_found", f"no {kind} {item_id}")
        return Response(status_code=204)

"""A logged-in API caller for tests, and helpers that wait for asynchronous work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from cloudplane.operations.sweeper import recover_after_restart
from cloudplane.runtime import Runtime


@dataclass
class ApiSession:
    """An authenticated client: ``await api.post("/servers", json=…)`` under ``/api/v1``."""

    client: httpx.AsyncClient
    runtime: Runtime
    token: str
    project_id: str
    user_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def credential(self) -> str:
        """The credential claim of this session's token, for tests that issue their own."""
        claims = jwt.decode(self.token, options={"verify_signature": False})
        return str(claims["cred"])

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return await self.client.request(method, f"/api/v1{path}", headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)

    async def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", path, **kwargs)

    async def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kwargs)

    async def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kwargs)

    async def settle(self) -> None:
        """Wait until the in-process worker has finished every operation sent so far."""
        await settle(self.runtime)


@asynccontextmanager
async def worker_held(runtime: Runtime) -> AsyncIterator[None]:
    """Operations requested inside stay pending (as if no worker ran); sent when it exits."""
    queue, runtime.queue = runtime.queue, None
    try:
        yield
    finally:
        runtime.queue = queue
        await recover_after_restart(runtime)


async def settle(runtime: Runtime) -> None:
    """Wait for in-process tasks, including tasks those tasks started, and for the refreshes
    of security groups' peers they asked for."""
    queue = runtime.queue
    assert queue is not None
    for _ in range(100):
        await queue.drain()
        if not queue.busy:
            await runtime.peer_refreshes.wait_idle()
            return
    raise AssertionError("in-process tasks did not settle")


async def until_finished(api: ApiSession, operation_id: str) -> dict[str, Any]:
    """Poll an operation, as a client would, until it has succeeded or failed (for a test
    that must not ``settle``, because another operation is held midway)."""
    for _ in range(1000):
        operation: dict[str, Any] = (await api.get(f"/operations/{operation_id}")).json()
        if operation["status"] in ("succeeded", "failed"):
            return operation
        await asyncio.sleep(0.01)
    raise AssertionError(f"operation {operation_id} did not finish: {operation}")


async def login(
    client: httpx.AsyncClient,
    runtime: Runtime,
    username: str,
    password: str,
    project_id: str | None = None,
) -> ApiSession:
    body: dict[str, str] = {"username": username, "password": password}
    if project_id is not None:
        body["project_id"] = project_id
    response = await client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 200, response.text
    token = response.json()
    whoami = await client.get(
        "/api/v1/auth/whoami", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert whoami.status_code == 200, whoami.text
    return ApiSession(
        client=client,
        runtime=runtime,
        token=token["access_token"],
        project_id=token["project_id"],
        user_id=whoami.json()["user"]["id"],
    )


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert the API.md error body with ``status``/``code`` and return its ``error`` object."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["code"] == code, body
    assert isinstance(error["message"], str)
    assert error["message"]
    assert error["request_id"] == response.headers["x-request-id"]
    assert isinstance(error["details"], dict)
    return error

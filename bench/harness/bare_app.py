"""A bare FastAPI app with one JSON endpoint: the yardstick for cloudplane's request cost.

It answers ``GET /api/v1/servers/{server_id}`` with a dict of the size and shape of a server
body, with no middleware, no authentication and no database. ``python -m
bench.harness.bare_app PORT`` serves it with uvicorn called exactly as ``cloudplane serve`` calls
it (one process, uvicorn's default loop and HTTP implementation, no access log).
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from fastapi import FastAPI

SERVER_BODY: dict[str, Any] = {
    "id": "bc3f10b4-dd60-407c-9948-c1350faf92b5",
    "name": "bench-server",
    "description": "",
    "project_id": "336bbb75-db93-4e77-9c8a-30cc1658a271",
    "user_id": "395df6ed-db88-406c-9d8c-4336d072100b",
    "flavor_id": "5544d854-3569-41f7-bc2d-67c95d3e64d2",
    "image_id": "851e896c-297a-4385-a31c-fcdf631dfd26",
    "status": "ACTIVE",
    "task_state": None,
    "power_state": "running",
    "addresses": [
        {
            "network_id": "6a1f7f0e-55b2-4c1e-9a55-0f6f2e1f4b8d",
            "port_id": "0c2b8f5e-7a0e-4a55-b1b8-0d4c5e2f9a11",
            "ip": "10.0.0.2",
            "mac": "fa:16:3e:12:34:56",
        }
    ],
    "floating_ips": [],
    "volumes": [],
    "metadata": {},
    "fault": None,
    "host": "sim-host-1",
    "created_at": "2026-11-22T03:24:35.542204Z",
    "updated_at": "2026-11-22T03:24:35.585382Z",
    "deleted_at": None,
}


def create_app() -> FastAPI:
    app = FastAPI(title="bare")

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/api/v1/servers/{server_id}")
    async def show_server(server_id: str) -> dict[str, Any]:
        return {**SERVER_BODY, "id": server_id}

    return app


def main() -> None:
    uvicorn.run(
        "bench.harness.bare_app:create_app",
        factory=True,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        workers=1,
        log_config=None,
        access_log=False,
        proxy_headers=True,
    )


if __name__ == "__main__":
    main()

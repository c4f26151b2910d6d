"""A service killed in the middle of an operation leaves nothing stuck after it restarts."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.processes import ServiceProcess, wait_for

from cloudplane.drivers.simulator import SimulatorDriver

PASSWORD = "restart-test-password"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    slow = ServiceProcess(
        tmp_path / "var",
        {
            "CLOUDPLANE_ADMIN_PASSWORD": PASSWORD,
            "CLOUDPLANE_SIMULATOR_LATENCY_MS": json.dumps({"create_server": 60_000}),
        },
    )
    yield slow
    slow.kill()


def _client(service: ServiceProcess) -> httpx.Client:
    token = httpx.post(
        f"{service.url}/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}
    ).json()["access_token"]
    return httpx.Client(
        base_url=f"{service.url}/api/v1", headers={"Authorization": f"Bearer {token}"}
    )


def _create_and_kill_mid_build(service: ServiceProcess) -> dict[str, Any]:
    service.start()
    with _client(service) as client:
        flavor = client.get("/flavors", params={"name": "m1.tiny"}).json()["items"][0]
        image = client.get("/images", params={"name": "tiny"}).json()["items"][0]
        server: dict[str, Any] = client.post(
            "/servers",
            json={"name": "survivor", "flavor_id": flavor["id"], "image_id": image["id"]},
        ).json()
        wait_for(
            lambda: (
                client.get(f"/operations/{server['operation_id']}").json()["status"] == "running"
            ),
            timeout_s=20,
            what="the create to be running",
        )
    service.kill()
    return server


def _restart(service: ServiceProcess, **env: str) -> None:
    service.env.pop("CLOUDPLANE_SIMULATOR_LATENCY_MS")
    service.env.update(env)
    service.start()


def test_a_create_interrupted_by_a_kill_finishes_after_restart_once(
    service: ServiceProcess,
) -> None:
    server = _create_and_kill_mid_build(service)
    _restart(service)
    with _client(service) as client:
        operation = wait_for(
            lambda: (
                (op := client.get(f"/operations/{server['operation_id']}").json())["status"]
                in ("succeeded", "failed")
                and op
            ),
            timeout_s=30,
            what="the interrupted create to finish",
        )
        assert operation["status"] == "succeeded", operation
        assert operation["attempts"] == 2
        shown = client.get(f"/servers/{server['id']}").json()
        assert shown["status"] == "ACTIVE"
    service.stop()
    assert asyncio.run(_servers_on_the_simulator(service.data_dir)) == [server["id"]]


async def _servers_on_the_simulator(data_dir: Path) -> list[str]:
    driver = SimulatorDriver(data_dir / "simulator")
    await driver.open()
    try:
        return [info.id for info in await driver.list_servers()]
    finally:
        await driver.close()


def test_an_operation_whose_deadline_passed_while_down_ends_in_error(
    service: ServiceProcess,
) -> None:
    service.env["CLOUDPLANE_OPERATION_DEADLINE_S"] = "2"
    server = _create_and_kill_mid_build(service)
    deadline = datetime.fromisoformat(server["created_at"]).timestamp() + 2
    wait_for(lambda: time.time() > deadline, timeout_s=10, what="the deadline to pass")
    _restart(service)
    with _client(service) as client:
        operation = wait_for(
            lambda: (
                (op := client.get(f"/operations/{server['operation_id']}").json())["status"]
                in ("succeeded", "failed")
                and op
            ),
            timeout_s=30,
            what="the overdue operation to end",
        )
        assert operation["status"] == "failed"
        assert "deadline" in operation["error"]
        shown = client.get(f"/servers/{server['id']}").json()
        assert shown["status"] == "ERROR"
        assert shown["task_state"] is None
        assert "deadline" in shown["fault"]["message"]

"""The event stream tells a connected client about state changes as they happen."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.support.processes import ServiceProcess, wait_for

PASSWORD = "stream-test-password"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    process = ServiceProcess(tmp_path / "var", {"CLOUDPLANE_ADMIN_PASSWORD": PASSWORD})
    process.start()
    yield process
    process.stop()


def _token(service: ServiceProcess) -> str:
    response = httpx.post(
        f"{service.url}/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}
    )
    token: str = response.json()["access_token"]
    return token


def test_a_server_build_is_streamed_as_server_and_operation_events(
    service: ServiceProcess,
) -> None:
    headers = {"Authorization": f"Bearer {_token(service)}"}
    received: list[dict[str, Any]] = []
    connected = threading.Event()
    done = threading.Event()

    def listen() -> None:
        try:
            read_events()
        except httpx.RemoteProtocolError:
            assert done.is_set(), "the stream broke before the test was done"

    def read_events() -> None:
        with httpx.stream(
            "GET",
            f"{service.url}/api/v1/events/stream",
            params={"poll_s": 0.1},
            headers=headers,
            timeout=30,
        ) as response:
            event: dict[str, Any] = {}
            for line in response.iter_lines():
                if line.startswith(": connected"):
                    connected.set()
                elif line.startswith("event: "):
                    event["event"] = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    event["data"] = json.loads(line.removeprefix("data: "))
                elif line.startswith("id: "):
                    event["id"] = line.removeprefix("id: ")
                elif line == "" and event:
                    received.append(event)
                    event = {}
                if done.is_set():
                    return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert connected.wait(10)
    with httpx.Client(base_url=f"{service.url}/api/v1", headers=headers) as client:
        flavor = client.get("/flavors", params={"name": "m1.tiny"}).json()["items"][0]
        image = client.get("/images", params={"name": "tiny"}).json()["items"][0]
        server = client.post(
            "/servers",
            json={"name": "streamed", "flavor_id": flavor["id"], "image_id": image["id"]},
        ).json()

    def saw_active_and_succeeded() -> bool:
        kinds = {
            (e["event"], e["data"].get("status"))
            for e in list(received)
            if e["data"]["id"] in (server["id"], server["operation_id"])
        }
        return ("server", "ACTIVE") in kinds and ("operation", "succeeded") in kinds

    wait_for(saw_active_and_succeeded, timeout_s=20, what="the build to be streamed")
    done.set()
    ids = [e["id"] for e in received]
    assert ids == sorted(ids)

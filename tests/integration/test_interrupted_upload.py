"""An upload cut off by a killed service leaves no half-written file and no image stuck in
``saving``: after the restart the image is ``queued`` and takes a fresh upload."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.support.processes import ServiceProcess, wait_for

from cloudplane.images.tiny_image import build_tiny_image

PASSWORD = "upload-test-password"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ServiceProcess]:
    process = ServiceProcess(tmp_path / "var", {"CLOUDPLANE_ADMIN_PASSWORD": PASSWORD})
    yield process
    process.kill()


def _client(service: ServiceProcess) -> httpx.Client:
    token = httpx.post(
        f"{service.url}/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}
    ).json()["access_token"]
    return httpx.Client(
        base_url=f"{service.url}/api/v1", headers={"Authorization": f"Bearer {token}"}
    )


def _partial_files(service: ServiceProcess) -> list[Path]:
    return list((service.data_dir / "images").glob(".*.partial"))


def test_an_upload_interrupted_by_a_kill_is_released_at_restart(
    service: ServiceProcess, tmp_path: Path
) -> None:
    data = build_tiny_image(tmp_path / "tiny.qcow2").path.read_bytes()
    first_part, rest = data[: 128 * 1024], data[128 * 1024 :]
    service.start()
    with _client(service) as client:
        image = client.post("/images", json={"name": "cut-off", "disk_format": "qcow2"}).json()
        hang_up = threading.Event()

        def body() -> Iterator[bytes]:
            yield first_part
            hang_up.wait(timeout=60)  # the service is killed while this upload is open

        outcome: list[object] = []

        def upload() -> None:
            try:
                outcome.append(
                    client.put(
                        f"/images/{image['id']}/file",
                        content=body(),
                        headers={"Content-Type": "application/octet-stream"},
                        timeout=60,
                    )
                )
            except httpx.HTTPError as exc:  # the connection dies with the service
                outcome.append(exc)

        uploader = threading.Thread(target=upload)
        uploader.start()
        try:
            wait_for(
                lambda: (
                    client.get(f"/images/{image['id']}").json()["status"] == "saving"
                    and _partial_files(service)
                ),
                timeout_s=20,
                what="the upload to be written",
            )
            service.kill()
        finally:
            hang_up.set()
            uploader.join()
        assert len(outcome) == 1
        assert isinstance(outcome[0], httpx.HTTPError), outcome

    service.start()
    with _client(service) as client:
        assert client.get(f"/images/{image['id']}").json()["status"] == "queued"
        assert _partial_files(service) == []
        answer = client.put(
            f"/images/{image['id']}/file",
            content=first_part + rest,
            headers={"Content-Type": "application/octet-stream"},
        )
        assert answer.status_code == 204, answer.text
        assert client.get(f"/images/{image['id']}").json()["status"] == "active"

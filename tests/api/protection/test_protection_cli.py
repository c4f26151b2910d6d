"""The protection commands of the ``cloudplane`` client against a real server: the app served
over HTTP by uvicorn in a thread (SQLite, the in-process worker, the simulator)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from tests.conftest import ADMIN_PASSWORD
from tests.unit.cli.client_runner import Run, client_runner

from cloudplane.app import create_app
from cloudplane.settings import Settings

DEADLINE_S = 30


@pytest.fixture
def served(settings: Settings) -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = uvicorn.Config(
        create_app(settings), log_level="warning", lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + DEADLINE_S
    while not server.started:
        assert thread.is_alive(), "the API stopped while starting"
        assert time.monotonic() < deadline, "the API did not start in time"
        time.sleep(0.02)
    yield url
    server.should_exit = True
    thread.join(timeout=DEADLINE_S)
    sock.close()


@pytest.fixture
def run(served: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    token = httpx.post(
        f"{served}/api/v1/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}
    ).json()["access_token"]
    monkeypatch.setenv("CLOUDPLANE_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("CLOUDPLANE_POLL_INTERVAL_S", "0.02")
    monkeypatch.setenv("CLOUDPLANE_URL", served)
    monkeypatch.setenv("CLOUDPLANE_TOKEN", token)
    return client_runner()


def as_json(run: Run, *args: str) -> Any:
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def available_volume(run: Run) -> str:
    volume = as_json(run, "volume", "create", "cli-volume", "--size", "1", "--wait")
    assert volume["status"] == "available", volume
    return str(volume["id"])


def test_plan_checkpoint_verify_restore_and_schedule_from_the_command_line(run: Run) -> None:
    volume_id = available_volume(run)

    plan = as_json(run, "plan", "create", "cli-plan", "--resource", f"volume:{volume_id}")
    checkpoint = as_json(run, "checkpoint", "create", "cli-plan", "--wait")
    verification = as_json(run, "verification", "create", checkpoint["id"], "--wait")
    restore = as_json(run, "restore", "create", checkpoint["id"], "--wait")

    assert (plan["status"], checkpoint["status"]) == ("suspended", "available")
    assert verification["status"] == "success"
    assert restore["status"] == "success", restore
    assert f"Volume#{volume_id}" in restore["restored_resources"]
    in_place = as_json(run, "restore", "create", checkpoint["id"], "--in-place", "--wait")
    assert (in_place["target"], in_place["status"]) == ("in_place", "success"), in_place
    assert in_place["restored_resources"] == {f"Volume#{volume_id}": volume_id}
    as_json(run, "trigger", "create", "cli-hourly", "--pattern", "0 * * * *")
    schedule = as_json(
        run,
        "schedule",
        "create",
        "keep-two",
        "--plan",
        "cli-plan",
        "--trigger",
        "cli-hourly",
        "--max-backups",
        "2",
    )
    assert schedule["operation_type"] == "retention_protect"
    started = as_json(run, "plan", "start", "cli-plan")
    assert started["status"] == "started"
    assert as_json(run, "schedule", "list")["items"][0]["next_run_at"] is not None

    refused = run("plan", "delete", "cli-plan")
    assert refused.exit_code != 0
    assert "scheduled operation" in refused.output
    logs = as_json(run, "protection-log", "list")["items"]
    assert {(entry["operation_type"], entry["status"]) for entry in logs} >= {
        ("protect", "success"),
        ("verify", "success"),
        ("restore", "success"),
    }

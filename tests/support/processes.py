"""Real ``cloudplane serve`` processes for tests that stop, kill and restart the service."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(condition: Callable[[], T | None], *, timeout_s: float, what: str) -> T:
    """Poll ``condition`` until it returns something other than None (or False)."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.05)


class ServiceProcess:
    """``python -m cloudplane serve`` on a free port with the given environment."""

    def __init__(
        self, data_dir: Path, env: dict[str, str], *, command: tuple[str, ...] = ("serve",)
    ) -> None:
        self.command = command
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("CLOUDPLANE_")},
            "CLOUDPLANE_DATA_DIR": str(data_dir),
            "CLOUDPLANE_PORT": str(self.port),
            "CLOUDPLANE_ARGON2_TIME_COST": "1",
            "CLOUDPLANE_ARGON2_MEMORY_KIB": "64",
            "CLOUDPLANE_LOG_LEVEL": "WARNING",
            **env,
        }
        self.log_path = data_dir.parent / f"{command[0]}-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def wait_ready(self) -> None:
        wait_for(self.ready, timeout_s=60, what=f"{self.command[0]} on port {self.port}")

    def launch(self) -> None:
        """Start the process without waiting for it to be ready."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cloudplane", *self.command],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group, so that a kill reaches the processes it starts too
            # (``serve --workers N`` runs its API processes as children).
            start_new_session=True,
        )

    def ready(self) -> bool:
        """Whether it serves; a ``serve`` is ready when ``/healthz`` answers."""
        return self._healthy()

    def _healthy(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"service exited: {self.log_path.read_text()[-2000:]}")
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """SIGKILL to the process and its children: none gets a chance to finish anything."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

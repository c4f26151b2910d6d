"""Server processes a benchmark starts, and the guarantee that it stops them again.

Every process is started in its own session and stopped by its own pid (SIGTERM, then SIGKILL
after a grace period), so a benchmark never leaves a server behind, even when it fails.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
ADMIN_PASSWORD = "bench-admin-password"
STOP_GRACE_S = 15.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """One HTTP server process with its log in a file."""

    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, health_url: str, *, timeout_s: float = 90.0) -> None:
        """Start the process and wait until ``health_url`` answers 200."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                # A generous timeout: on two busy cores a first answer can take seconds.
                if httpx.get(health_url, timeout=10.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} not healthy after {timeout_s:.0f} s")
            time.sleep(0.1)

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    def stop(self) -> None:
        """SIGTERM, and SIGKILL if the process has not exited after the grace period."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_GRACE_S)

    def check_alive(self) -> None:
        """Raise if the process has exited on its own: figures measured on it are void."""
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited during the run with {self.process.returncode}:\n"
                f"{self.log_tail()}"
            )

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


@contextmanager
def running(process: ServerProcess, health_url: str) -> Iterator[ServerProcess]:
    """``process`` started and healthy for the body of the ``with``, stopped after it."""
    try:
        process.start(health_url)
        yield process
        process.check_alive()
    except BaseException:
        # A failure of the load generator or a client is often the server having died: say so.
        if process.process is not None and process.process.poll() is not None:
            print(
                f"!! {process.name} had exited with {process.process.returncode}; "
                f"its log ends:\n{process.log_tail()}",
                file=sys.stderr,
            )
        raise
    finally:
        process.stop()


def serve_argv() -> list[str]:
    """How ``cloudplane serve`` is started."""
    return [sys.executable, "-m", "cloudplane", "serve"]


def serve_note() -> str:
    """A header line naming how the service is started."""
    settings = "CLOUDPLANE_RATE_LIMIT_PER_S=0 (no per-user rate limit), log level WARNING"
    return f"service command: python -m cloudplane serve; {settings}"


def service_env(
    data_dir: Path,
    port: int,
    *,
    database_url: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a ``cloudplane`` process on ``data_dir`` (nothing inherited from
    the caller's own ``CLOUDPLANE_*`` settings)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CLOUDPLANE_")}
    env.update(
        {
            "CLOUDPLANE_DATA_DIR": str(data_dir),
            "CLOUDPLANE_PORT": str(port),
            "CLOUDPLANE_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "CLOUDPLANE_LOG_LEVEL": "WARNING",
            # The benchmarks load the service as one user, far past the per-user rate limit:
            # what they measure is the service's capacity, not the limiter's answer.
            "CLOUDPLANE_RATE_LIMIT_PER_S": "0",
        }
    )
    if database_url is not None:
        env["CLOUDPLANE_DATABASE_URL"] = database_url
    env.update(extra or {})
    return env


class CloudplaneService:
    """``python -m cloudplane serve`` (one API process, uvicorn defaults) on a free port."""

    def __init__(
        self,
        data_dir: Path,
        *,
        database_url: str | None = None,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = service_env(data_dir, self.port, database_url=database_url, extra=extra_env)
        self.process: ServerProcess | None = None

    def migrate(self, *, timeout_s: float = 180.0) -> None:
        """Create the schema and seed the database (admin, demo, flavors, ``tiny``) without
        serving, so rows can be written into it before the service starts."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            [sys.executable, "-m", "cloudplane", "migrate"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if result.returncode != 0:
            output = f"{result.stdout}\n{result.stderr}".strip()
            raise RuntimeError(f"cloudplane migrate failed:\n…{output[-3000:]}")

    @contextmanager
    def serving(self, extra_env: Mapping[str, str] | None = None) -> Iterator[CloudplaneService]:
        """The service running (with ``extra_env`` on top of its environment) for the body of
        the ``with``; it can be started again afterwards, on the same data and port."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = ServerProcess(
            "cloudplane serve",
            serve_argv(),
            {**self.env, **(extra_env or {})},
            self.data_dir.parent / f"{self.data_dir.name}-serve.log",
        )
        with running(self.process, f"{self.url}/healthz"):
            yield self


class BareService:
    """The app of ``bench.harness.bare_app``, run by uvicorn exactly as cloudplane is."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            part for part in (str(REPOSITORY_ROOT), env.get("PYTHONPATH", "")) if part
        )
        self.process = ServerProcess(
            "bare FastAPI app",
            [sys.executable, "-m", "bench.harness.bare_app", str(self.port)],
            env,
            log_dir / "bare.log",
        )

    @contextmanager
    def serving(self) -> Iterator[BareService]:
        with running(self.process, f"{self.url}/healthz"):
            yield self

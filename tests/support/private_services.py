"""A private PostgreSQL cluster and a private RabbitMQ node, for tests that restart them.

The shared services on 5432 and 5672 serve everyone else's tests at the same time, so the fault
tests never touch them: they start their own, on free ports under a temporary directory, stop and
start those, and remove them at the end. Both need root (the daemons run as their own users).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

from tests.support.databases import unavailable
from tests.support.processes import free_port, wait_for


def _run(*args: str, env: dict[str, str] | None = None, timeout_s: float = 60) -> str:
    done = subprocess.run(
        args, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed: {done.stdout[-1000:]}{done.stderr[-1000:]}")
    return done.stdout


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """``initdb`` + ``pg_ctl`` into ``directory`` as the postgres user, trust auth, loopback."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.port = free_port()
        binaries = _postgres_bin()
        if binaries is None or os.geteuid() != 0 or shutil.which("runuser") is None:
            unavailable("a private PostgreSQL needs root and /usr/lib/postgresql/*/bin")
        assert binaries is not None
        self.bin = binaries

    def _as_postgres(self, *args: str) -> str:
        return _run("runuser", "-u", "postgres", "--", *args)

    def create(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.directory, "postgres", "postgres")
        self._as_postgres(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"
        )
        self.start()

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=200"
        )
        log = str(self.directory / "postgres.log")
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start"
        )

    def stop(self) -> None:
        self._as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"
        )

    def destroy(self) -> None:
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(self.bin / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "-w",
                "stop",
            ],
            capture_output=True,
            check=False,
            timeout=60,
        )
        shutil.rmtree(self.directory, ignore_errors=True)

    def create_database(self, name: str, *, template: str | None = None) -> str:
        """A new database, empty or a copy of ``template``; returns its async SQLAlchemy URL."""
        copy = f' TEMPLATE "{template}"' if template else ""
        _run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-c",
            f'CREATE DATABASE "{name}"{copy}',
        )
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"


class PrivateRabbitMQ:
    """A RabbitMQ node of its own name, ports, data and logs; controlled with ``rabbitmqctl``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.node = f"cpfaults{os.getpid()}@localhost"
        if shutil.which("rabbitmq-server") is None or os.geteuid() != 0:
            unavailable("a private RabbitMQ node needs root and rabbitmq-server")
        dist_port = free_port()
        self.env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(dist_port),
            "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(directory / "log"),
            "RABBITMQ_PID_FILE": str(directory / "rabbitmq.pid"),
            "RABBITMQ_CONFIG_FILE": str(directory / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(directory / "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def _ctl(self, *args: str, timeout_s: float = 60) -> str:
        return _run("rabbitmqctl", "-n", self.node, *args, env=self.env, timeout_s=timeout_s)

    def create(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
        )
        (self.directory / "rabbitmq-env.conf").write_text("")
        (self.directory / "enabled_plugins").write_text("[].\n")
        _run("chown", "-R", "rabbitmq:rabbitmq", str(self.directory))
        _run("rabbitmq-server", "-detached", env=self.env)
        wait_for(self._node_answers, timeout_s=60, what=f"RabbitMQ node {self.node}")
        self._ctl("await_startup", "--timeout", "60", timeout_s=90)

    def _node_answers(self) -> bool:
        done = subprocess.run(
            ["rabbitmqctl", "-n", self.node, "ping"],
            env=self.env,
            capture_output=True,
            check=False,
            timeout=30,
        )
        return done.returncode == 0

    def add_vhost(self, name: str) -> str:
        """A new virtual host for guest; returns its amqp URL."""
        self._ctl("add_vhost", name)
        self._ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        return f"amqp://guest:guest@127.0.0.1:{self.port}/{name}"

    def stop_app(self) -> None:
        self._ctl("stop_app")

    def start_app(self) -> None:
        self._ctl("start_app")
        self._ctl("await_startup", "--timeout", "60", timeout_s=90)

    def destroy(self) -> None:
        subprocess.run(
            ["rabbitmqctl", "-n", self.node, "stop"],
            env=self.env,
            capture_output=True,
            check=False,
            timeout=60,
        )
        pid_file = self.directory / "rabbitmq.pid"
        deadline = time.monotonic() + 20
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        shutil.rmtree(self.directory, ignore_errors=True)

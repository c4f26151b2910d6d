"""The distributed form in real processes: API replicas and workers over one database and broker."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.support.private_services import PrivatePostgres, PrivateRabbitMQ
from tests.support.processes import ServiceProcess, wait_for

ADMIN_PASSWORD = "fault-test-password"
SEED_DATABASE = "cpseed"
TERMINAL = ("succeeded", "failed")


class WorkerProcess(ServiceProcess):
    """``python -m cloudplane worker``; ready once it logs that it consumes."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        super().__init__(data_dir, {"CLOUDPLANE_LOG_LEVEL": "INFO", **env}, command=("worker",))

    def ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"worker exited: {self.log_path.read_text()[-3000:]}")
        return self.log_path.exists() and "worker_started" in self.log_path.read_text()


class Cluster:
    """Processes sharing one data directory (simulator state, images), database and broker."""

    def __init__(
        self, root: Path, *, database_url: str, broker_url: str | None, env: Mapping[str, str]
    ) -> None:
        self.root = root
        self.data_dir = root / "var"
        self.env = {
            "CLOUDPLANE_DATABASE_URL": database_url,
            "CLOUDPLANE_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "CLOUDPLANE_JWT_SECRET": "fault-tests-signing-key-0123456789abcdef",
            "CLOUDPLANE_AUTO_MIGRATE": "false",
            "CLOUDPLANE_RATE_LIMIT_PER_S": "0",
            **({"CLOUDPLANE_BROKER_URL": broker_url} if broker_url else {}),
            **env,
        }
        self.processes: list[ServiceProcess] = []

    def migrate(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        probe = ServiceProcess(self.data_dir, self.env)  # for its environment only
        done = subprocess.run(
            [sys.executable, "-m", "cloudplane", "migrate"],
            env=probe.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]

    def api(self, **env: str) -> ServiceProcess:
        process = ServiceProcess(self.data_dir, {**self.env, **env})
        self.processes.append(process)
        process.start()
        return process

    def worker(self, **env: str) -> WorkerProcess:
        process = WorkerProcess(self.data_dir, {**self.env, **env})
        self.processes.append(process)
        process.start()
        return process

    def start(self, *, apis: int = 0, workers: int = 0, **env: str) -> list[ServiceProcess]:
        """Launch API replicas and workers together, then wait until each is ready."""
        started: list[ServiceProcess] = [
            *(ServiceProcess(self.data_dir, {**self.env, **env}) for _ in range(apis)),
            *(WorkerProcess(self.data_dir, {**self.env, **env}) for _ in range(workers)),
        ]
        self.processes.extend(started)
        for process in started:
            process.launch()
        for process in started:
            process.wait_ready()
        return started

    def stop_all(self) -> None:
        for process in self.processes:
            process.kill()

    def simulator_creations(self) -> list[str]:
        """Every server id the simulator really created, once per creation."""
        log = self.data_dir / "simulator" / "created.log"
        return log.read_text().split() if log.exists() else []


class ClusterFactory:
    """Builds clusters on the private services; kills their processes at teardown.

    Each cluster gets its own database, copied from one migrated and seeded once for the
    session (migrating takes seconds on a busy machine), its own copy of that seed's data
    directory (the seeded image file), and its own virtual host.
    """

    def __init__(
        self, root: Path, postgres: PrivatePostgres, rabbitmq: PrivateRabbitMQ, seed: Cluster
    ) -> None:
        self.root = root
        self.postgres = postgres
        self.rabbitmq = rabbitmq
        self.seed = seed
        self.built: list[Cluster] = []

    def __call__(self, env: dict[str, str], *, broker: bool = True) -> Cluster:
        name = f"faults_{uuid.uuid4().hex[:10]}"
        cluster = Cluster(
            self.root / name,
            database_url=self.postgres.create_database(name, template=SEED_DATABASE),
            broker_url=self.rabbitmq.add_vhost(name) if broker else None,
            env=env,
        )
        shutil.copytree(self.seed.data_dir, cluster.data_dir)
        self.built.append(cluster)
        return cluster


def seed_cluster(root: Path, postgres: PrivatePostgres) -> Cluster:
    """A migrated and seeded database (``SEED_DATABASE``) and data directory to copy from."""
    seed = Cluster(
        root, database_url=postgres.create_database(SEED_DATABASE), broker_url=None, env={}
    )
    seed.migrate()
    return seed


def admin_client(api: ServiceProcess) -> httpx.Client:
    """A client logged in as admin in the demo project, whose quotas are lifted."""
    answer = httpx.post(
        f"{api.url}/api/v1/auth/token",
        json={"username": "admin", "password": ADMIN_PASSWORD},
        timeout=30,
    ).json()
    headers = {"Authorization": f"Bearer {answer['access_token']}"}
    lifted = httpx.put(
        f"{api.url}/api/v1/projects/{answer['project_id']}/quotas",
        json={"servers": -1, "vcpus": -1, "ram_mb": -1},
        headers=headers,
        timeout=30,
    )
    assert lifted.status_code == 200, lifted.text
    return httpx.Client(base_url=f"{api.url}/api/v1", headers=headers, timeout=30)


def server_body(client: httpx.Client, name: str) -> dict[str, Any]:
    flavor = client.get("/flavors", params={"name": "m1.tiny"}).json()["items"][0]
    image = client.get("/images", params={"name": "tiny"}).json()["items"][0]
    return {"name": name, "flavor_id": flavor["id"], "image_id": image["id"]}


def create_servers(client: httpx.Client, prefix: str, count: int) -> list[dict[str, Any]]:
    """``count`` creates, each answered 202; returns the servers as first answered."""
    template = server_body(client, prefix)

    def create(n: int) -> dict[str, Any]:
        answer = client.post("/servers", json={**template, "name": f"{prefix}-{n}"})
        assert answer.status_code == 202, answer.text
        server: dict[str, Any] = answer.json()
        return server

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(create, range(count)))


def operations(client: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get("/operations", params={"limit": 1000}).json()["items"]
    return items


def servers(client: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get("/servers", params={"limit": 1000}).json()["items"]
    return items


def wait_all_finished(
    client: httpx.Client, count: int, *, timeout_s: float
) -> list[dict[str, Any]]:
    """Poll until ``count`` operations exist and all are finished; returns them."""

    def finished() -> list[dict[str, Any]] | None:
        ops = operations(client)
        done = len(ops) >= count and all(op["status"] in TERMINAL for op in ops)
        return ops if done else None

    def summary() -> str:
        ops = operations(client)
        return json.dumps(
            {s: sum(op["status"] == s for op in ops) for s in ("pending", "running", *TERMINAL)}
        )

    try:
        return wait_for(finished, timeout_s=timeout_s, what="every operation to finish")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; operations now: {summary()}") from exc

"""Boot and delete 1,000 servers: the embedded form beside the distributed one, in one run.

Embedded: one ``cloudplane serve`` on SQLite with its in-process worker (as
``boot_and_delete.py``). Distributed: one ``cloudplane serve`` publishing to RabbitMQ and two
``cloudplane worker`` processes, all on a throwaway database on the local PostgreSQL and a queue
of their own on the local RabbitMQ. Both use the simulator with zero latency and the same client
(``boot_and_delete.run``), so the figures compare the two forms, and the machine's two cores are
shared by every process in both.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.boot_and_delete import ZERO_LATENCY, create_network, run
from bench.harness.api import lift_compute_quota, login, seeded_catalogue
from bench.harness.postgres import postgres_reachable, throwaway_database
from bench.harness.processes import CloudplaneService, serve_note
from bench.harness.report import exit_cleanly_on_sigterm, print_header

BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/"
WORKERS = 2
WORKER_START_S = 90.0


def _rabbitmqctl(*args: str) -> str:
    done = subprocess.run(
        ["rabbitmqctl", "-q", *args], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def _consumers(queue: str) -> int:
    for line in _rabbitmqctl("list_queues", "name", "consumers").splitlines():
        name, _, count = line.partition("\t")
        if name == queue and count.strip().isdigit():
            return int(count)
    return 0


@contextmanager
def workers(env: dict[str, str], queue: str, log_dir: Path) -> Iterator[None]:
    """``WORKERS`` worker processes, ready (consuming ``queue``) for the body; stopped after."""
    processes = []
    try:
        for n in range(WORKERS):
            log = (log_dir / f"worker-{n}.log").open("ab")
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "cloudplane", "worker"],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
        deadline = time.monotonic() + WORKER_START_S
        while _consumers(queue) < WORKERS:
            if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
                raise RuntimeError(f"the workers did not start; see {log_dir}")
            time.sleep(0.5)
        yield
    finally:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


@contextmanager
def private_queue() -> Iterator[str]:
    """A queue name of this run's own; its queues go when the run ends."""
    name = f"cloudplane.bench.{secrets.token_hex(4)}"
    try:
        yield name
    finally:
        for queue in (name, f"{name}.dead", f"{name}.retry"):
            subprocess.run(
                ["rabbitmqctl", "-q", "delete_queue", queue],
                capture_output=True,
                timeout=60,
                check=False,
            )


def measure(service: CloudplaneService) -> float:
    session = login(service.url)
    lift_compute_quota(service.url, session)
    catalogue = seeded_catalogue(service.url, session)
    network_id = create_network(service.url, session)
    return asyncio.run(run(service.url, session, catalogue, network_id))


def embedded(scratch: Path) -> float:
    print("## embedded: 1 API process, SQLite, in-process worker", flush=True)
    service = CloudplaneService(
        scratch / "embedded", extra_env={"CLOUDPLANE_SIMULATOR_LATENCY_MS": ZERO_LATENCY}
    )
    with service.serving():
        return measure(service)


def distributed(scratch: Path) -> float:
    print(f"\n## distributed: 1 API process + {WORKERS} workers, PostgreSQL, RabbitMQ", flush=True)
    with throwaway_database() as database_url, private_queue() as queue:
        service = CloudplaneService(
            scratch / "distributed",
            database_url=database_url,
            extra_env={
                "CLOUDPLANE_SIMULATOR_LATENCY_MS": ZERO_LATENCY,
                "CLOUDPLANE_BROKER_URL": BROKER_URL,
                "CLOUDPLANE_BROKER_QUEUE": queue,
            },
        )
        service.migrate()
        worker_env = {**service.env, "CLOUDPLANE_AUTO_MIGRATE": "false"}
        with service.serving(), workers(worker_env, queue, scratch):
            return measure(service)


def main() -> None:
    exit_cleanly_on_sigterm()
    if not postgres_reachable():
        raise SystemExit("the local PostgreSQL does not answer; run `make services`")
    print_header(
        "boot and delete 1,000 servers: embedded vs distributed",
        [
            serve_note(),
            f"simulator latency {ZERO_LATENCY}; broker {BROKER_URL} (a queue of this run's own)",
            f"machine: {os.cpu_count()} cores shared by every process of both forms",
        ],
    )
    with tempfile.TemporaryDirectory(prefix="cloudplane-bench-distributed-") as scratch:
        embedded_rate = embedded(Path(scratch))
        distributed_rate = distributed(Path(scratch))
    print()
    print(f"embedded:    {embedded_rate:.1f} servers/s (boot and delete, both phases)")
    print(f"distributed: {distributed_rate:.1f} servers/s (1 API + {WORKERS} workers)")
    if embedded_rate > 0:
        print(f"ratio distributed / embedded: {distributed_rate / embedded_rate:.2f}")


if __name__ == "__main__":
    main()

"""An operation that kills every worker that runs it is given up after its attempts run out."""

from __future__ import annotations

import functools
import json
from typing import Any

import httpx
from tests.support.cluster import ClusterFactory, admin_client, create_servers
from tests.support.processes import wait_for

MAX_ATTEMPTS = 2


def _operation(client: httpx.Client, url: str) -> dict[str, Any]:
    operation: dict[str, Any] = client.get(url).json()
    return operation


def _running_attempt(client: httpx.Client, url: str, attempt: int) -> bool:
    operation = _operation(client, url)
    return bool(operation["status"] == "running" and operation["attempts"] == attempt)


def test_an_operation_whose_workers_keep_dying_fails_after_its_last_attempt(
    make_cluster: ClusterFactory,
) -> None:
    cluster = make_cluster(
        {
            # Long enough for the worker to be killed in the middle of every run.
            "CLOUDPLANE_SIMULATOR_LATENCY_MS": json.dumps({"create_server": 4000}),
            "CLOUDPLANE_OPERATION_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
            # A dead worker's claim lapses within seconds, and the sweeper sends it again.
            "CLOUDPLANE_OPERATION_LEASE_S": "2",
            "CLOUDPLANE_SWEEP_INTERVAL_S": "1",
            "CLOUDPLANE_PENDING_RESEND_AFTER_S": "2",
            "CLOUDPLANE_SCHEDULER_TICK_S": "0.5",
        }
    )
    api = cluster.api()
    with admin_client(api) as client:
        [server] = create_servers(client, "poison", 1)
        operation_url = f"/operations/{server['operation_id']}"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            worker = cluster.worker()
            wait_for(
                functools.partial(_running_attempt, client, operation_url, attempt),
                timeout_s=60,
                what=f"attempt {attempt} to be running",
            )
            worker.kill()

        cluster.worker()
        operation = wait_for(
            lambda: (op := _operation(client, operation_url))["status"] == "failed" and op,
            timeout_s=60,
            what="the operation to be given up",
        )
        failed = client.get(f"/servers/{server['id']}").json()

    assert operation["error"] == f"gave up after {MAX_ATTEMPTS} attempts", operation
    assert (failed["status"], failed["task_state"]) == ("ERROR", None), failed
    assert failed["fault"]["message"] == operation["error"], failed
    # No run got as far as making the server.
    assert server["id"] not in cluster.simulator_creations()

"""A run the database keeps failing is retried with backoff, then dead-lettered and failed."""

from __future__ import annotations

import json

from tests.support.cluster import ClusterFactory, admin_client, create_servers
from tests.support.private_services import PrivatePostgres
from tests.support.processes import wait_for


def test_an_operation_whose_retries_run_out_is_failed_from_the_dead_letter_queue(
    make_cluster: ClusterFactory, private_postgres: PrivatePostgres
) -> None:
    cluster = make_cluster(
        {
            "CLOUDPLANE_SIMULATOR_LATENCY_MS": json.dumps({"create_server": 1500}),
            "CLOUDPLANE_OPERATION_LEASE_S": "2",
            "CLOUDPLANE_BROKER_RETRY_LIMIT": "1",
            "CLOUDPLANE_BROKER_RETRY_BACKOFF_S": "0.5",
            # Nothing but the dead-letter queue may touch the operation meanwhile.
            "CLOUDPLANE_SWEEP_INTERVAL_S": "3600",
        }
    )
    api = cluster.api(CLOUDPLANE_RUN_SCHEDULER="false")
    worker = cluster.worker()
    with admin_client(api) as client:
        [server] = create_servers(client, "doomed", 1)
        operation_url = f"/operations/{server['operation_id']}"
        wait_for(
            lambda: client.get(operation_url).json()["status"] == "running",
            timeout_s=30,
            what="the create to be running",
        )
        # The database goes while the driver works: the run cannot record its outcome, and
        # its one retry (0.5 s later) cannot even claim the operation.
        private_postgres.stop()
        try:
            wait_for(
                lambda: "dead_letter_deferred" in worker.log_path.read_text(),
                timeout_s=30,
                what="the message to reach the dead-letter queue",
            )
        finally:
            private_postgres.start()
        operation = wait_for(
            lambda: (op := client.get(operation_url).json())["status"] == "failed" and op,
            timeout_s=30,
            what="the dead-lettered operation to be failed",
        )
        failed = client.get(f"/servers/{server['id']}").json()

    log = worker.log_path.read_text()
    assert "operation_retry_scheduled" in log
    assert operation["error"].startswith("dead-lettered: gave up after 1 retries"), operation
    assert failed["status"] == "ERROR", failed
    assert failed["task_state"] is None, failed
    assert failed["fault"]["message"].startswith("dead-lettered"), failed

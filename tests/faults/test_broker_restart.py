"""RabbitMQ restarted in the middle of 100 operations: every one of them still finishes."""

from __future__ import annotations

import json
import time
from collections import Counter

import httpx
from tests.support.cluster import (
    ClusterFactory,
    admin_client,
    create_servers,
    operations,
    servers,
    wait_all_finished,
)
from tests.support.private_services import PrivateRabbitMQ
from tests.support.processes import wait_for

BEFORE_OUTAGE = 60
DURING_OUTAGE = 40


def test_no_operation_is_lost_when_the_broker_restarts_under_load(
    make_cluster: ClusterFactory, private_rabbitmq: PrivateRabbitMQ
) -> None:
    cluster = make_cluster(
        {
            "CLOUDPLANE_SIMULATOR_LATENCY_MS": json.dumps({"create_server": 300}),
            "CLOUDPLANE_OPERATION_LEASE_S": "3",
            "CLOUDPLANE_SWEEP_INTERVAL_S": "1",
            "CLOUDPLANE_PENDING_RESEND_AFTER_S": "4",
            "CLOUDPLANE_SCHEDULER_TICK_S": "0.5",
            "CLOUDPLANE_BROKER_PREFETCH": "2",
            "CLOUDPLANE_BROKER_PUBLISH_TIMEOUT_S": "1",
        }
    )
    api = cluster.api()
    with admin_client(api) as client:
        # Queued before any worker runs, so the broker holds most of them when it stops.
        first = create_servers(client, "before", BEFORE_OUTAGE)
        cluster.start(workers=2)
        wait_for(
            lambda: sum(op["status"] == "succeeded" for op in operations(client)) >= 5,
            timeout_s=60,
            what="the first creates to finish",
        )
        private_rabbitmq.stop_app()
        try:
            at_stop = Counter(op["status"] for op in operations(client))
            # Requests that need a worker are still accepted while the broker is away, also
            # by a replica that starts meanwhile.
            late_api = cluster.api()
            started = time.monotonic()
            with admin_client(late_api) as late_client:
                during = create_servers(late_client, "during", DURING_OUTAGE)
            accepting_s = time.monotonic() - started
            ready = client.get(f"{api.url}/readyz")
        finally:
            private_rabbitmq.start_app()
        restarted_at = time.monotonic()
        # The replica that started without a broker connects once it is back.
        wait_for(
            lambda: httpx.get(f"{late_api.url}/readyz", timeout=10).status_code == 200,
            timeout_s=30,
            what="the late replica to reach the broker",
        )

        ops = wait_all_finished(client, BEFORE_OUTAGE + DURING_OUTAGE, timeout_s=90)
        settled_s = time.monotonic() - restarted_at
        final = servers(client)

    assert at_stop["pending"] + at_stop["running"] >= 1, at_stop  # the broker held work
    assert ready.status_code == 503, ready.text
    assert ready.json()["checks"]["broker"].startswith("failed"), ready.text
    assert {op["status"] for op in ops} == {"succeeded"}, Counter(op["status"] for op in ops)
    assert {s["id"] for s in final} == {s["id"] for s in first + during}
    assert {s["status"] for s in final} == {"ACTIVE"}
    made = Counter(cluster.simulator_creations())
    assert max(made.values()) == 1
    print(
        f"broker stopped with {dict(at_stop)}; {DURING_OUTAGE} creates accepted in "
        f"{accepting_s:.1f} s meanwhile; all settled {settled_s:.1f} s after the restart"
    )

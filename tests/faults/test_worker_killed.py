"""A worker killed with SIGKILL in the middle of 100 creates: nothing is lost, doubled or stuck."""

from __future__ import annotations

import json
import time
from collections import Counter

from tests.support.cluster import (
    ClusterFactory,
    admin_client,
    create_servers,
    operations,
    servers,
    wait_all_finished,
)
from tests.support.processes import wait_for

CREATES = 100


def test_every_create_ends_active_or_in_error_once_after_its_worker_is_killed(
    make_cluster: ClusterFactory,
) -> None:
    cluster = make_cluster(
        {
            "CLOUDPLANE_SIMULATOR_LATENCY_MS": json.dumps({"create_server": 200}),
            # A dead worker's claims lapse within seconds, and the sweeper looks every second.
            "CLOUDPLANE_OPERATION_LEASE_S": "3",
            "CLOUDPLANE_SWEEP_INTERVAL_S": "1",
            "CLOUDPLANE_PENDING_RESEND_AFTER_S": "3",
            "CLOUDPLANE_SCHEDULER_TICK_S": "0.5",
            "CLOUDPLANE_BROKER_PREFETCH": "4",
        }
    )
    api = cluster.api()
    doomed = cluster.worker()
    with admin_client(api) as client:
        created = create_servers(client, "crash", CREATES)
        wait_for(
            lambda: sum(op["status"] == "succeeded" for op in operations(client)) >= 10,
            timeout_s=60,
            what="the first creates to finish",
        )
        doomed.kill()
        killed_at = time.monotonic()
        at_kill = Counter(op["status"] for op in operations(client))
        # The kill really interrupted work: some creates were running, others not yet started.
        assert at_kill["running"] >= 1, at_kill
        assert at_kill["pending"] >= 1, at_kill

        cluster.worker()
        ops = wait_all_finished(client, CREATES, timeout_s=90)
        recovered_in_s = time.monotonic() - killed_at

        final = {server["id"]: server for server in servers(client)}
        assert set(final) == {server["id"] for server in created}
        for server in final.values():
            assert server["status"] in ("ACTIVE", "ERROR"), server
            assert server["task_state"] is None, server
            if server["status"] == "ERROR":
                assert server["fault"] is not None, server
                assert server["fault"]["message"], server
        assert all(op["status"] in ("succeeded", "failed") for op in ops)

    # The simulator's own record: no server was ever made twice, and every ACTIVE one was made.
    made = Counter(cluster.simulator_creations())
    assert [sid for sid, times in made.items() if times > 1] == []
    active = {sid for sid, server in final.items() if server["status"] == "ACTIVE"}
    assert active <= set(made)
    print(f"worker killed with {dict(at_kill)}; all {CREATES} settled {recovered_in_s:.1f} s later")

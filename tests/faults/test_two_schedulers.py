"""Two scheduler replicas (two workers) for several periods: each job fires once per due time."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from datetime import datetime, timedelta

from tests.support.cluster import ClusterFactory
from tests.support.processes import ServiceProcess, wait_for

INTERVAL_S = 2
PERIODS = 5
JOBS = ("operations.sweep", "servers.reconcile", "leaks.sweep")


def _firings(process: ServiceProcess) -> list[tuple[str, datetime]]:
    """The (job, due time) pairs this process claimed, from its JSON log lines."""
    fired = []
    for line in process.log_path.read_text().splitlines():
        if '"periodic_job_claimed"' in line:
            record = json.loads(line)
            fired.append((record["job"], datetime.fromisoformat(record["due"])))
    return fired


def test_each_periodic_job_fires_exactly_once_per_period_with_two_schedulers(
    make_cluster: ClusterFactory,
) -> None:
    interval = str(INTERVAL_S)
    cluster = make_cluster(
        {
            "CLOUDPLANE_SWEEP_INTERVAL_S": interval,
            "CLOUDPLANE_RECONCILE_INTERVAL_S": interval,
            "CLOUDPLANE_LEAK_SWEEP_INTERVAL_S": interval,
            "CLOUDPLANE_SCHEDULER_TICK_S": "0.2",
        }
    )
    replicas = cluster.start(workers=2)

    def enough() -> bool:
        due = defaultdict(set)
        for process in replicas:
            for job, at in _firings(process):
                due[job].add(at)
        return all(len(due[job]) >= PERIODS for job in JOBS)

    wait_for(enough, timeout_s=PERIODS * INTERVAL_S * 3, what=f"{PERIODS} periods of each job")
    cluster.stop_all()

    by_replica = [_firings(process) for process in replicas]
    for job in JOBS:
        dues = sorted(at for fired in by_replica for name, at in fired if name == job)
        assert len(dues) == len(set(dues)), f"{job} fired twice for one due time: {dues}"
        gaps = {later - earlier for earlier, later in itertools.pairwise(dues)}
        assert gaps == {timedelta(seconds=INTERVAL_S)}, f"{job} skipped a period: {dues}"
    # Both replicas won firings: the claims really raced.
    assert all(fired for fired in by_replica), [len(fired) for fired in by_replica]
    print(f"firings per replica: {[len(fired) for fired in by_replica]}")

"""``cloudplane serve --workers N``: N API processes behind one port, only with a broker."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
from tests.support.cluster import ClusterFactory
from tests.support.processes import ServiceProcess, wait_for


def test_serve_with_two_workers_runs_two_api_processes_on_one_port(
    make_cluster: ClusterFactory,
) -> None:
    cluster = make_cluster({"CLOUDPLANE_LOG_LEVEL": "INFO"})
    api = ServiceProcess(cluster.data_dir, cluster.env, command=("serve", "--workers", "2"))
    cluster.processes.append(api)
    api.start()

    def started_pids() -> set[str] | None:
        pids = set(re.findall(r"Started server process \[(\d+)\]", api.log_path.read_text()))
        return pids if len(pids) == 2 else None

    pids = wait_for(started_pids, timeout_s=60, what="two API processes")
    assert api.process is not None
    assert str(api.process.pid) not in pids  # the parent only supervises them
    answers = [httpx.get(f"{api.url}/readyz", timeout=10) for _ in range(10)]
    assert {answer.status_code for answer in answers} == {200}
    assert answers[0].json()["checks"]["broker"] == "ok"


def test_serve_with_two_workers_and_no_broker_is_refused(make_cluster: ClusterFactory) -> None:
    cluster = make_cluster({}, broker=False)
    env = ServiceProcess(cluster.data_dir, cluster.env).env
    done = subprocess.run(
        [sys.executable, "-m", "cloudplane", "serve", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "CLOUDPLANE_BROKER_URL" in done.stderr

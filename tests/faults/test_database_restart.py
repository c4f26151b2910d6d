"""PostgreSQL restarted under a read/write load: 503s while it is away, no 500, nothing lost."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
from tests.support.cluster import ClusterFactory, admin_client
from tests.support.private_services import PrivatePostgres
from tests.support.processes import wait_for

RECOVERY_LIMIT_S = 10.0


@dataclass(frozen=True, slots=True)
class Answer:
    at: float
    kind: str
    status: int
    code: str | None
    retry_after: str | None
    project_id: str | None


@dataclass
class Load:
    """Threads that create projects (writes) and read them back, recording every answer."""

    client: httpx.Client
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, writers: int = 2, readers: int = 2) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._write) for _ in range(writers)]
        threads += [threading.Thread(target=self._read) for _ in range(readers)]
        for thread in threads:
            thread.start()
        return threads

    def _record(self, kind: str, answer: httpx.Response, project_id: str | None) -> None:
        code = None
        if answer.status_code >= 400:
            code = answer.json().get("error", {}).get("code")
        with self.lock:
            self.answers.append(
                Answer(
                    time.monotonic(),
                    kind,
                    answer.status_code,
                    code,
                    answer.headers.get("Retry-After"),
                    project_id,
                )
            )

    def _write(self) -> None:
        while not self.stop.is_set():
            answer = self.client.post("/projects", json={"name": f"load-{uuid.uuid4().hex[:12]}"})
            project_id = answer.json()["id"] if answer.status_code == 201 else None
            self._record("write", answer, project_id)

    def _read(self) -> None:
        while not self.stop.is_set():
            self._record("read", self.client.get("/projects", params={"limit": 20}), None)

    def count(
        self, *, since: float = 0.0, status: int | None = None, kind: str | None = None
    ) -> int:
        with self.lock:
            return sum(
                1
                for a in self.answers
                if a.at >= since
                and (status is None or a.status == status)
                and (kind is None or a.kind == kind)
            )


def test_a_database_restart_answers_503_meanwhile_and_recovers_without_losing_writes(
    make_cluster: ClusterFactory, private_postgres: PrivatePostgres
) -> None:
    cluster = make_cluster({"CLOUDPLANE_AUTH_CACHE_TTL_S": "1"}, broker=False)
    api = cluster.api()
    client = admin_client(api)
    load = Load(client)
    threads = load.run()
    try:
        wait_for(lambda: load.count(status=201) >= 20, timeout_s=60, what="writes before")
        private_postgres.stop()
        stopped_at = time.monotonic()
        try:
            wait_for(
                lambda: (
                    load.count(since=stopped_at, status=503, kind="write") >= 5
                    and load.count(since=stopped_at, status=503, kind="read") >= 5
                ),
                timeout_s=30,
                what="reads and writes to be refused while the database is away",
            )
            ready = httpx.get(f"{api.url}/readyz", timeout=10)
        finally:
            private_postgres.start()
        started_at = time.monotonic()
        wait_for(
            lambda: (
                load.count(since=started_at, status=201) >= 1
                and load.count(since=started_at, status=200) >= 1
            ),
            timeout_s=RECOVERY_LIMIT_S,
            what="reads and writes to succeed again",
        )
        recovered_s = time.monotonic() - started_at
        wait_for(lambda: load.count(since=started_at, status=201) >= 20, timeout_s=30, what="load")
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(timeout=30)

    statuses = Counter(a.status for a in load.answers)
    assert set(statuses) <= {200, 201, 503}, statuses
    refused = [a for a in load.answers if a.status == 503]
    assert {a.code for a in refused} == {"unavailable"}
    assert all(a.retry_after for a in refused)
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("failed"), ready.text
    assert ready.json()["checks"]["driver"] == "ok", ready.text

    # Every write that was answered 201 is there.
    committed = [a.project_id for a in load.answers if a.status == 201]
    for project_id in committed:
        assert client.get(f"/projects/{project_id}").status_code == 200, project_id
    client.close()
    print(f"answers {dict(statuses)}; service back {recovered_s:.1f} s after the restart")

"""Boot and delete 1,000 servers through the HTTP API of a real ``cloudplane serve``.

The simulator runs with zero latency, so what is measured is cloudplane itself: the API, the
database, the task queue and the worker. An async client in this process keeps a bounded number
of requests in flight. Phase 1 creates every server and waits until none is still building;
phase 2 deletes every server and waits until none is left. Time from request to ``ACTIVE`` is
read from the create operations' ``created_at`` and ``finished_at``.

Every server gets a port on a network of its own (``bench-net``, a /20): the seeded ``demo-net``
is a /24 and holds about 250 servers, fewer than the benchmark boots.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

# `python bench/<name>.py` puts bench/ itself on the path; the shared code is imported from the
# repository root as ``bench.harness`` (as the tests import ``tests.support``).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness.api import (
    Catalogue,
    Login,
    expect,
    lift_compute_quota,
    login,
    seeded_catalogue,
)
from bench.harness.processes import CloudplaneService, serve_note
from bench.harness.report import exit_cleanly_on_sigterm, percentile, print_header, target

SERVERS = 1_000
CONCURRENCY = 32
PHASE_DEADLINE_S = 300.0
POLL_INTERVAL_S = 0.1
TARGET_SERVERS_PER_S = 100.0
TARGET_P99_TO_ACTIVE_S = 1.0
ZERO_LATENCY = '{"*": 0}'
NETWORK_CIDR = "10.64.0.0/20"


@dataclass(slots=True)
class RequestLog:
    """Client-side latencies of one kind of request, and what went wrong."""

    latencies_s: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    throttled: int = 0

    def summary(self) -> str:
        text = (
            f"{len(self.latencies_s)} ok, client-side p50 "
            f"{percentile(self.latencies_s, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(self.latencies_s, 0.99) * 1000:.1f} ms"
        )
        if self.throttled:
            text += f", {self.throttled} answered 429 and were retried"
        if self.failures:
            text += f", failures: {dict(self.failures)}"
        return text


async def send(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    expected: int,
    log: RequestLog,
    json_body: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """One request, retried after ``Retry-After`` when the service answers 429."""
    while True:
        began = time.perf_counter()
        response = await client.request(method, url, json=json_body)
        if response.status_code == 429:
            log.throttled += 1
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        if response.status_code != expected:
            log.failures[_failure(response)] += 1
            return None
        log.latencies_s.append(time.perf_counter() - began)
        body: dict[str, Any] | None = response.json() if response.content else None
        return body


def _failure(response: httpx.Response) -> str:
    """The status, code and message of an error answer (not its request id, which differs)."""
    try:
        error = response.json()["error"]
        return f"{response.status_code} {error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return f"{response.status_code} {response.text[:120]}"


async def bounded(jobs: Sequence[Callable[[], Awaitable[None]]]) -> None:
    """Run ``jobs`` with at most ``CONCURRENCY`` in flight."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def run(job: Callable[[], Awaitable[None]]) -> None:
        async with gate:
            await job()

    await asyncio.gather(*(run(job) for job in jobs))


async def wait_until_empty(client: httpx.AsyncClient, query: str, what: str) -> bool:
    """Poll ``GET /servers?<query>&limit=1`` until it lists nothing; False at the deadline."""
    deadline = time.monotonic() + PHASE_DEADLINE_S
    while time.monotonic() < deadline:
        response = await client.get(f"/api/v1/servers?{query}&limit=1")
        response.raise_for_status()
        if not response.json()["items"]:
            return True
        await asyncio.sleep(POLL_INTERVAL_S)
    print(f"!! gave up after {PHASE_DEADLINE_S:.0f} s waiting for {what}")
    return False


async def list_all(client: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    """Every item of a paginated list, 1,000 at a time."""
    items: list[dict[str, Any]] = []
    marker: str | None = None
    while True:
        separator = "&" if "?" in path else "?"
        url = f"{path}{separator}limit=1000" + (f"&marker={marker}" if marker else "")
        response = await client.get(url)
        response.raise_for_status()
        page = response.json()
        items.extend(page["items"])
        marker = page["next_marker"]
        if marker is None:
            return items


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def create_network(base_url: str, session: Login) -> str:
    """A network with room for every server the benchmark boots."""
    body = expect(
        httpx.post(
            f"{base_url}/api/v1/networks",
            json={"name": "bench-net", "cidr": NETWORK_CIDR},
            headers=session.headers,
            timeout=30,
        ),
        201,
        202,
    )
    network_id: str = body["id"]
    return network_id


async def create_phase(
    client: httpx.AsyncClient, catalogue: Catalogue, network_id: str
) -> tuple[list[str], RequestLog, float, bool]:
    log = RequestLog()
    ids: list[str] = []

    def create(index: int) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            body = await send(
                client,
                "POST",
                "/api/v1/servers",
                202,
                log,
                {
                    "name": f"boot-{index:04d}",
                    "flavor_id": catalogue.flavor_id,
                    "image_id": catalogue.image_id,
                    "networks": [{"network_id": network_id}],
                },
            )
            if body is not None:
                ids.append(body["id"])

        return job

    began = time.perf_counter()
    await bounded([create(index) for index in range(SERVERS)])
    built = await wait_until_empty(client, "status=BUILD", "every server to leave BUILD")
    return ids, log, time.perf_counter() - began, built


async def delete_phase(
    client: httpx.AsyncClient, ids: Sequence[str]
) -> tuple[RequestLog, float, bool]:
    log = RequestLog()

    def delete(server_id: str) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            await send(client, "DELETE", f"/api/v1/servers/{server_id}", 202, log)

        return job

    began = time.perf_counter()
    await bounded([delete(server_id) for server_id in ids])
    gone = await wait_until_empty(client, "sort=created_at:desc", "every server to go")
    return log, time.perf_counter() - began, gone


async def operation_durations(
    client: httpx.AsyncClient, action: str, ids: set[str]
) -> tuple[list[float], Counter[str]]:
    """Seconds from ``created_at`` to ``finished_at`` of the succeeded operations on ``ids``,
    and how many operations ended in each status."""
    operations = [
        op
        for op in await list_all(client, f"/api/v1/operations?action={action}")
        if op["resource_id"] in ids
    ]
    statuses = Counter(str(op["status"]) for op in operations)
    durations = [
        (_at(op["finished_at"]) - _at(op["created_at"])).total_seconds()
        for op in operations
        if op["status"] == "succeeded" and op["finished_at"]
    ]
    return durations, statuses


async def run(base_url: str, session: Login, catalogue: Catalogue, network_id: str) -> float:
    """Both phases with their figures printed; returns servers/s over both (0 if never built).

    The rate counts the servers asked for; a run in which some were refused says so above it.
    """
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=base_url, headers=session.headers, limits=limits, timeout=120
    ) as client:
        ids, create_log, create_s, built = await create_phase(client, catalogue, network_id)
        servers = await list_all(client, "/api/v1/servers")
        statuses = Counter(str(server["status"]) for server in servers)
        print(f"create: {create_log.summary()}")
        print(
            f"phase 1 (create {len(ids):,}, wait until built): {create_s:.2f} s, "
            f"{len(ids) / create_s:.1f} servers/s; statuses now {dict(statuses)}",
            flush=True,
        )
        if not built:
            target("the 1,000 servers were built within the deadline", False)
            return 0.0
        delete_log, delete_s, gone = await delete_phase(client, ids)
        print(f"delete: {delete_log.summary()}")
        print(
            f"phase 2 (delete {len(ids):,}, wait until gone): {delete_s:.2f} s, "
            f"{len(ids) / delete_s:.1f} servers/s",
            flush=True,
        )
        to_active, create_ops = await operation_durations(client, "create", set(ids))
        delete_durations, delete_ops = await operation_durations(client, "delete", set(ids))

    total_s = create_s + delete_s
    rate = SERVERS / total_s
    p50, p99 = percentile(to_active, 0.5), percentile(to_active, 0.99)
    print()
    print(
        f"servers: {SERVERS:,} asked for, {len(ids):,} accepted, "
        f"{statuses.get('ACTIVE', 0):,} ACTIVE after phase 1"
    )
    print(f"create operations: {dict(create_ops)}; delete operations: {dict(delete_ops)}")
    print(
        f"boot and delete: {total_s:.2f} s in all, {rate:.1f} servers/s "
        f"(create {SERVERS / create_s:.1f}/s, delete {SERVERS / delete_s:.1f}/s)"
    )
    print(
        f"create -> ACTIVE (operation created_at -> finished_at): p50 {p50 * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms, max {max(to_active, default=float('nan')) * 1000:.0f} ms"
    )
    print(
        f"delete operations created_at -> finished_at: "
        f"p50 {percentile(delete_durations, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(delete_durations, 0.99) * 1000:.0f} ms"
    )
    complete = (
        gone
        and len(ids) == SERVERS
        and statuses.get("ACTIVE", 0) == SERVERS
        and create_ops.get("succeeded", 0) == SERVERS
    )
    if not complete:
        print("!! not every server was created, built and deleted: see the counts above")
    target(
        f">= {TARGET_SERVERS_PER_S:.0f} servers/s over both phases ({rate:.1f})",
        complete and rate >= TARGET_SERVERS_PER_S,
    )
    target(
        f"p99 create -> ACTIVE <= {TARGET_P99_TO_ACTIVE_S:.0f} s ({p99:.3f} s)",
        complete and p99 <= TARGET_P99_TO_ACTIVE_S,
    )
    return rate


def main() -> None:
    exit_cleanly_on_sigterm()
    print_header(
        f"boot and delete {SERVERS:,} servers through the API",
        [
            serve_note(),
            "where: cloudplane serve (1 API process, SQLite, in-process worker, simulator "
            f"with latency {ZERO_LATENCY}) on 127.0.0.1; m1.tiny, image tiny, one port each "
            f"on bench-net ({NETWORK_CIDR})",
            f"client: httpx.AsyncClient in this process, at most {CONCURRENCY} requests in "
            f"flight; polls every {POLL_INTERVAL_S:.1f} s; deadline {PHASE_DEADLINE_S:.0f} s "
            "per phase",
        ],
    )
    with tempfile.TemporaryDirectory(prefix="cloudplane-bench-boot-") as scratch:
        service = CloudplaneService(
            Path(scratch) / "data", extra_env={"CLOUDPLANE_SIMULATOR_LATENCY_MS": ZERO_LATENCY}
        )
        with service.serving():
            session = login(service.url)
            lift_compute_quota(service.url, session)
            catalogue = seeded_catalogue(service.url, session)
            network_id = create_network(service.url, session)
            asyncio.run(run(service.url, session, catalogue, network_id))


if __name__ == "__main__":
    main()

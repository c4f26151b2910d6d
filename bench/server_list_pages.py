"""p99 of a 100-server list page with 1,000 and with 100,000 servers in the project.

For each size a fresh service is migrated and seeded, the servers are written straight into its
database (and its simulator state, so the reconciler finds nothing to repair), and then the
service is started and ``wrk`` reads two pages: the first one (``?limit=100``) and one in the
middle of the list (``?limit=100&marker=…``). Both sizes are measured the same way in the same
run. The service runs twice on the same data: as configured by default (its scheduler runs the
sweeper and the reconciler in the API process), which is what the targets judge, and with
``CLOUDPLANE_RUN_SCHEDULER=false``, which shows the listing on its own.

SQLite by default; ``BENCH_POSTGRES=1`` adds a run on a throwaway database of the local
PostgreSQL (127.0.0.1:5432, user postgres), dropped afterwards.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

# `python bench/<name>.py` puts bench/ itself on the path; the shared code is imported from the
# repository root as ``bench.harness`` (as the tests import ``tests.support``).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness.api import Login, expect, login
from bench.harness.postgres import postgres_reachable, throwaway_database
from bench.harness.processes import CloudplaneService, serve_note
from bench.harness.report import exit_cleanly_on_sigterm, print_header, target
from bench.harness.server_rows import seed_servers
from bench.harness.wrk import WrkResult, ensure_wrk, run_wrk

from cloudplane.settings import Settings

SIZES = (1_000, 100_000)
PAGE = 100
CONNECTIONS = 1
WARMUP_S = 2
DURATION_S = 10
TARGET_P99_MS = 20.0
TARGET_GROWTH = 1.5
MODES: Mapping[str, Mapping[str, str]] = {
    "defaults": {},
    "no scheduler": {"CLOUDPLANE_RUN_SCHEDULER": "false"},
}
JUDGED_MODE = "defaults"


@dataclass(frozen=True, slots=True)
class PageFigures:
    first: WrkResult
    middle: WrkResult


Results = dict[tuple[str, str, int], PageFigures]
"""(engine, mode, size) → the two pages' figures."""


@contextmanager
def database_for(engine: str) -> Iterator[str | None]:
    """``None`` (the service's default SQLite file) or a throwaway PostgreSQL database."""
    if engine == "sqlite":
        yield None
        return
    with throwaway_database() as url:
        yield url


def check_page(url: str, session: Login, first_id: str) -> None:
    """The page answers 200 with ``PAGE`` items, starting where it should."""
    page = expect(httpx.get(url, headers=session.headers, timeout=60), 200)
    if len(page["items"]) != PAGE or page["items"][0]["id"] != first_id:
        raise RuntimeError(f"unexpected page from {url}: {len(page['items'])} items")
    if page["next_marker"] is None:
        raise RuntimeError(f"{url} has no next_marker although more servers follow")


def measure_pages(service: CloudplaneService, ids: list[str]) -> PageFigures:
    """Warm up and measure the first page and the middle page of a running service."""
    session = login(service.url)
    first_url = f"{service.url}/api/v1/servers?limit={PAGE}"
    # Newest first: the page after the middle server starts with the one created before it.
    middle = len(ids) // 2
    middle_url = f"{first_url}&marker={ids[middle]}"
    check_page(first_url, session, ids[-1])
    check_page(middle_url, session, ids[middle - 1])
    for url in (first_url, middle_url):
        run_wrk(url, duration_s=WARMUP_S, connections=CONNECTIONS, token=session.token)
    return PageFigures(
        first=run_wrk(
            first_url, duration_s=DURATION_S, connections=CONNECTIONS, token=session.token
        ),
        middle=run_wrk(
            middle_url, duration_s=DURATION_S, connections=CONNECTIONS, token=session.token
        ),
    )


def measure_size(scratch: Path, engine: str, size: int, results: Results) -> None:
    with database_for(engine) as database_url:
        service = CloudplaneService(scratch / f"{engine}-{size}", database_url=database_url)
        service.migrate()
        settings = Settings(data_dir=service.data_dir, database_url=database_url)
        seeded = seed_servers(settings, size)
        print(
            f"{engine} {size:,} servers: rows written in {seeded.database_s:.1f} s, "
            f"simulator state in {seeded.simulator_s:.1f} s",
            flush=True,
        )
        for mode, extra_env in MODES.items():
            with service.serving(extra_env):
                figures = measure_pages(service, seeded.ids)
            results[(engine, mode, size)] = figures
            label = f"{engine} {size:>7,} {mode:<12}"
            print(f"  {label} first page:  {figures.first.summary()}")
            print(f"  {label} middle page: {figures.middle.summary()}", flush=True)


def report(results: Results, engines: list[str]) -> None:
    small, large = SIZES
    for engine in engines:
        print()
        print(f"{engine}: p99 of a {PAGE}-item page, {small:,} vs {large:,} servers")
        for mode in MODES:
            low, high = results[(engine, mode, small)], results[(engine, mode, large)]
            for page, low_run, high_run in (
                ("first", low.first, high.first),
                ("middle", low.middle, high.middle),
            ):
                growth = high_run.p99_ms / low_run.p99_ms
                print(
                    f"  {mode:<12} {page:<6} page: p99 {low_run.p99_ms:7.2f} ms at {small:,}, "
                    f"{high_run.p99_ms:7.2f} ms at {large:,}, ratio {large // 1000}k/"
                    f"{small // 1000}k {growth:5.2f}"
                )
        for page in ("first", "middle"):
            low, high = (
                getattr(results[(engine, JUDGED_MODE, size)], page) for size in (small, large)
            )
            clean = low.clean and high.clean
            target(
                f"{engine} {page} page p99 <= {TARGET_P99_MS:.0f} ms at {large:,} "
                f"({high.p99_ms:.2f} ms)",
                clean and high.p99_ms <= TARGET_P99_MS,
            )
            target(
                f"{engine} {page} page p99 at {large:,} <= {TARGET_GROWTH}x the {small:,} "
                f"figure ({high.p99_ms / low.p99_ms:.2f}x)",
                clean and high.p99_ms <= TARGET_GROWTH * low.p99_ms,
            )


def main() -> None:
    exit_cleanly_on_sigterm()
    ensure_wrk()
    engines = ["sqlite"]
    postgres_note = "PostgreSQL: not asked for (BENCH_POSTGRES=1 adds it)"
    if os.environ.get("BENCH_POSTGRES") == "1":
        if postgres_reachable():
            engines.append("postgresql")
            postgres_note = "PostgreSQL: a throwaway database on 127.0.0.1:5432"
        else:
            postgres_note = "PostgreSQL: asked for, but nothing answers on 127.0.0.1:5432"
    print_header(
        f"server list pages ({PAGE} items) at {SIZES[0]:,} and {SIZES[1]:,} servers",
        [
            serve_note(),
            f"where: cloudplane serve (1 API process, simulator) on {' and '.join(engines)}; "
            "rows written straight into the database before the service starts; " + postgres_note,
            f"load: wrk -t1 -c{CONNECTIONS} -d{DURATION_S}s --latency per page after "
            f"{WARMUP_S} s of warm-up; pages: GET /api/v1/servers?limit={PAGE} and the same "
            "with the marker of the middle server",
            f"modes: {', '.join(MODES)} (targets judge '{JUDGED_MODE}')",
        ],
    )
    results: Results = {}
    with tempfile.TemporaryDirectory(prefix="cloudplane-bench-list-") as scratch:
        for engine in engines:
            for size in SIZES:
                measure_size(Path(scratch), engine, size, results)
    report(results, engines)


if __name__ == "__main__":
    main()

"""p99 of a 100-server list page with 1,000 and with 100,000 servers in the project.

For each size a fresh service is migrated and seeded, the servers are written straight into its
database (and its simulator state, so nothing gets "repaired"), and then the service is started
and ``wrk`` reads two pages: the first one (``?limit=100``) and one in the middle of the list
(``?limit=100&marker=…``). Both sizes are measured the same way in the same run, on SQLite and,
when a local PostgreSQL answers, on PostgreSQL too.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

# `python bench/<name>.py` puts bench/ itself on the path; the shared code is imported from the
# repository root as ``bench.harness`` (as the tests import ``tests.support``).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness.api import Login, expect, login
from bench.harness.postgres import postgres_reachable, throwaway_database
from bench.harness.processes import CloudplaneService
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


@dataclass(frozen=True, slots=True)
class PageFigures:
    first: WrkResult
    middle: WrkResult


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


def measure_size(scratch: Path, engine: str, size: int) -> PageFigures:
    with database_for(engine) as database_url:
        service = CloudplaneService(scratch / f"{engine}-{size}", database_url=database_url)
        service.migrate()
        settings = Settings(data_dir=service.data_dir, database_url=database_url)
        seeded = seed_servers(settings, size)
        print(
            f"  {engine} {size:>7,}: wrote the rows in {seeded.database_s:.1f} s, "
            f"the simulator state in {seeded.simulator_s:.1f} s",
            flush=True,
        )
        with service.serving():
            session = login(service.url)
            first_url = f"{service.url}/api/v1/servers?limit={PAGE}"
            # Newest first: the page after the middle server starts with the one before it.
            middle = size // 2
            middle_url = f"{first_url}&marker={seeded.ids[middle]}"
            check_page(first_url, session, seeded.ids[-1])
            check_page(middle_url, session, seeded.ids[middle - 1])
            for url in (first_url, middle_url):
                run_wrk(url, duration_s=WARMUP_S, connections=CONNECTIONS, token=session.token)
            figures = PageFigures(
                first=run_wrk(
                    first_url, duration_s=DURATION_S, connections=CONNECTIONS, token=session.token
                ),
                middle=run_wrk(
                    middle_url, duration_s=DURATION_S, connections=CONNECTIONS, token=session.token
                ),
            )
        print(f"  {engine} {size:>7,} first page:  {figures.first.summary()}")
        print(f"  {engine} {size:>7,} middle page: {figures.middle.summary()}", flush=True)
        return figures


def report_engine(engine: str, small: PageFigures, large: PageFigures) -> None:
    print()
    print(f"{engine}: p99 of a {PAGE}-item page, {SIZES[0]:,} vs {SIZES[1]:,} servers")
    for page, low, high in (
        ("first ", small.first, large.first),
        ("middle", small.middle, large.middle),
    ):
        growth = high.p99_ms / low.p99_ms
        print(
            f"  {page} page: p99 {low.p99_ms:6.2f} ms at {SIZES[0]:,}, "
            f"{high.p99_ms:6.2f} ms at {SIZES[1]:,}  ratio {growth:.2f}"
        )
        clean = low.clean and high.clean
        target(
            f"{engine} {page.strip()} page p99 <= {TARGET_P99_MS:.0f} ms at {SIZES[1]:,}",
            clean and high.p99_ms <= TARGET_P99_MS,
        )
        target(
            f"{engine} {page.strip()} page p99 at {SIZES[1]:,} <= {TARGET_GROWTH}x "
            f"the {SIZES[0]:,} figure",
            clean and growth <= TARGET_GROWTH,
        )


def main() -> None:
    exit_cleanly_on_sigterm()
    ensure_wrk()
    engines = ["sqlite"]
    if postgres_reachable():
        engines.append("postgresql")
    print_header(
        f"server list pages ({PAGE} items) at {SIZES[0]:,} and {SIZES[1]:,} servers",
        [
            f"where: cloudplane serve (1 API process, simulator) on {' and '.join(engines)}; "
            "rows written straight into the database before the service starts",
            f"load: wrk -t1 -c{CONNECTIONS} -d{DURATION_S}s --latency per page, "
            f"{WARMUP_S} s warm-up; pages: GET /api/v1/servers?limit={PAGE} and the same "
            "with the marker of the middle server",
        ],
    )
    if "postgresql" not in engines:
        print("(no PostgreSQL on 127.0.0.1:5432: SQLite only)")
    results: dict[str, dict[int, PageFigures]] = {}
    with tempfile.TemporaryDirectory(prefix="cloudplane-bench-list-") as scratch:
        for engine in engines:
            results[engine] = {size: measure_size(Path(scratch), engine, size) for size in SIZES}
    for engine, by_size in results.items():
        report_engine(engine, by_size[SIZES[0]], by_size[SIZES[1]])


if __name__ == "__main__":
    main()

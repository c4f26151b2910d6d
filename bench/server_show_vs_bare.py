"""``GET /api/v1/servers/{id}`` on cloudplane against a bare FastAPI endpoint, side by side.

Both run as one uvicorn process with uvicorn's defaults (uvloop, httptools), started the same
way; ``wrk`` loads each in turn with the same connections and duration, after a warm-up. The
figure that matters is the ratio of requests per second (cloudplane / bare).
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

# `python bench/<name>.py` puts bench/ itself on the path; the shared code is imported from the
# repository root as ``bench.harness`` (as the tests import ``tests.support``).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness.api import Login, expect, login, seeded_catalogue
from bench.harness.processes import BareService, CloudplaneService, serve_note
from bench.harness.report import exit_cleanly_on_sigterm, print_header, target
from bench.harness.wrk import WrkResult, ensure_wrk, run_wrk

CONNECTIONS = 32
THREADS = 1
WARMUP_S = 3
DURATION_S = 10
ROUNDS = 2
TARGET_RATIO = 0.5


def _available(module: str) -> str:
    return "yes" if importlib.util.find_spec(module) is not None else "no"


def create_active_server(base_url: str, session: Login) -> str:
    """One server, built: the thing the benchmark reads."""
    catalogue = seeded_catalogue(base_url, session)
    created = expect(
        httpx.post(
            f"{base_url}/api/v1/servers",
            json={
                "name": "bench-show",
                "flavor_id": catalogue.flavor_id,
                "image_id": catalogue.image_id,
            },
            headers=session.headers,
            timeout=30,
        ),
        202,
    )
    server_id: str = created["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        server = expect(
            httpx.get(f"{base_url}/api/v1/servers/{server_id}", headers=session.headers), 200
        )
        if server["status"] == "ACTIVE":
            return server_id
        if server["status"] == "ERROR":
            raise RuntimeError(f"the server failed to build: {server['fault']}")
        time.sleep(0.05)
    raise RuntimeError("the server did not become ACTIVE within 60 s")


def measure(url: str, token: str | None) -> WrkResult:
    return run_wrk(
        url, duration_s=DURATION_S, connections=CONNECTIONS, threads=THREADS, token=token
    )


def main() -> None:
    exit_cleanly_on_sigterm()
    ensure_wrk()
    print_header(
        "server show vs a bare FastAPI endpoint",
        [
            serve_note(),
            "where: cloudplane serve (SQLite, simulator, 1 API process) and a bare FastAPI app, "
            "both on 127.0.0.1 under uvicorn defaults "
            f"(uvloop available: {_available('uvloop')}, "
            f"httptools available: {_available('httptools')}; 1 worker, no access log)",
            f"load: wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION_S}s --latency with an "
            f"Authorization header; {WARMUP_S} s warm-up each; {ROUNDS} alternating rounds",
        ],
    )
    with tempfile.TemporaryDirectory(prefix="cloudplane-bench-show-") as scratch:
        ours = CloudplaneService(Path(scratch) / "data")
        bare = BareService(Path(scratch))
        with ours.serving(), bare.serving():
            session = login(ours.url)
            server_id = create_active_server(ours.url, session)
            ours_url = f"{ours.url}/api/v1/servers/{server_id}"
            bare_url = f"{bare.url}/api/v1/servers/{server_id}"
            ours_size = len(httpx.get(ours_url, headers=session.headers).content)
            bare_size = len(httpx.get(bare_url).content)
            print(f"response bodies: cloudplane {ours_size} bytes, bare {bare_size} bytes")

            run_wrk(ours_url, duration_s=WARMUP_S, connections=CONNECTIONS, token=session.token)
            run_wrk(bare_url, duration_s=WARMUP_S, connections=CONNECTIONS, token=session.token)
            ours_runs: list[WrkResult] = []
            bare_runs: list[WrkResult] = []
            for round_number in range(1, ROUNDS + 1):
                ours_runs.append(measure(ours_url, session.token))
                bare_runs.append(measure(bare_url, session.token))
                print(f"round {round_number} cloudplane: {ours_runs[-1].summary()}")
                print(f"round {round_number} bare:       {bare_runs[-1].summary()}", flush=True)

    ours_rps = statistics.fmean(run.requests_per_s for run in ours_runs)
    bare_rps = statistics.fmean(run.requests_per_s for run in bare_runs)
    ours_p50 = statistics.fmean(run.p50_ms for run in ours_runs)
    bare_p50 = statistics.fmean(run.p50_ms for run in bare_runs)
    ours_p99 = statistics.fmean(run.p99_ms for run in ours_runs)
    bare_p99 = statistics.fmean(run.p99_ms for run in bare_runs)
    ratio = ours_rps / bare_rps
    print()
    print(
        f"cloudplane GET /servers/{{id}}: {ours_rps:9.1f} req/s  p50 {ours_p50:.2f} ms  "
        f"p99 {ours_p99:.2f} ms  (mean of {ROUNDS} rounds)"
    )
    print(
        f"bare FastAPI endpoint:         {bare_rps:9.1f} req/s  p50 {bare_p50:.2f} ms  "
        f"p99 {bare_p99:.2f} ms"
    )
    print(
        f"ratio cloudplane/bare: rps {ratio:.3f}  p50 {ours_p50 / bare_p50:.2f}x  "
        f"p99 {ours_p99 / bare_p99:.2f}x"
    )
    clean = all(run.clean for run in ours_runs + bare_runs)
    if not clean:
        print("!! some responses were not 2xx or connections failed: the figures are not valid")
    # A missed target is a finding, not a failure: ``make bench`` goes on to the next script.
    met = clean and ratio >= TARGET_RATIO
    target(f"rps ratio cloudplane/bare >= {TARGET_RATIO} ({ratio:.3f})", met)


if __name__ == "__main__":
    main()

"""The load generator: ``wrk`` with ``--latency``, installed from Debian when missing."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_PERCENTILE = re.compile(r"^\s*(50|75|90|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m)", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests_per_s: float
    requests: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int

    @property
    def clean(self) -> bool:
        """Every response was 2xx and no connection failed: the figures mean something."""
        return self.non_2xx == 0 and self.socket_errors == 0

    def summary(self) -> str:
        text = (
            f"{self.requests_per_s:9.1f} req/s  p50 {self.p50_ms:7.2f} ms  "
            f"p90 {self.p90_ms:7.2f} ms  p99 {self.p99_ms:7.2f} ms  ({self.requests} requests)"
        )
        if not self.clean:
            text += f"  !! {self.non_2xx} non-2xx, {self.socket_errors} socket errors"
        return text


def ensure_wrk() -> str:
    """The path of ``wrk``; installs the Debian package first when it is not on PATH."""
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk is not installed; installing the Debian package 'wrk' …", flush=True)
    install = ["apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, capture_output=True, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, check=False)
        subprocess.run(install, capture_output=True, check=False)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is missing and 'apt-get install -y wrk' did not provide it")
    return found


def parse_wrk_output(output: str) -> WrkResult:
    """The figures of one ``wrk --latency`` run."""
    percentiles = {
        int(match[1]): float(match[2]) * _UNIT_MS[match[3]]
        for match in _PERCENTILE.finditer(output)
    }
    rps = _RPS.search(output)
    total = _TOTAL.search(output)
    if rps is None or total is None or not {50, 90, 99} <= percentiles.keys():
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    non_2xx = _NON_2XX.search(output)
    socket_errors = _SOCKET_ERRORS.search(output)
    return WrkResult(
        requests_per_s=float(rps[1]),
        requests=int(total[1]),
        p50_ms=percentiles[50],
        p90_ms=percentiles[90],
        p99_ms=percentiles[99],
        non_2xx=int(non_2xx[1]) if non_2xx else 0,
        socket_errors=sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
    )


def run_wrk(
    url: str,
    *,
    duration_s: int,
    connections: int,
    threads: int = 1,
    token: str | None = None,
) -> WrkResult:
    """Load ``url`` with keep-alive connections for ``duration_s`` and read the figures."""
    argv = [
        ensure_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration_s}s",
        "--timeout",
        "30s",
        "--latency",
    ]
    if token is not None:
        argv += ["-H", f"Authorization: Bearer {token}"]
    argv.append(url)
    result = subprocess.run(
        argv, capture_output=True, text=True, timeout=duration_s + 60, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return parse_wrk_output(result.stdout)

"""The header, figures and target lines every benchmark prints."""

from __future__ import annotations

import math
import os
import platform
import signal
import sys
from collections.abc import Sequence
from types import FrameType


def exit_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into ``SystemExit`` so that ``finally`` blocks stop what the run started."""

    def _raise(signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _raise)


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it, or the platform's processor string."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_header(title: str, details: Sequence[str]) -> None:
    """What is measured, where, and on which machine."""
    print(f"# {title}")
    print(
        f"machine: {os.cpu_count()} cores ({cpu_model()}), {platform.system()} "
        f"{platform.release()}, Python {sys.version.split()[0]}"
    )
    for line in details:
        print(line)
    print(flush=True)


def target(description: str, met: bool) -> bool:
    """Print one ``target: … met/NOT met`` line and hand back whether it was met."""
    print(f"target: {description}: {'met' if met else 'NOT met'}", flush=True)
    return met


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def p50_p99_ms(seconds: Sequence[float]) -> str:
    """``seconds``' median and 99th percentile, in milliseconds, as a figure line says them."""
    p50, p99 = (percentile(seconds, fraction) * 1000 for fraction in (0.5, 0.99))
    return f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"

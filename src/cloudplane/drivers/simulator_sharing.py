"""Lets several processes share one simulator state directory.

API replicas and workers of the distributed form each run a simulator over the same data
directory. Each reads the files again before it acts, and a change (read, modify, replace) holds
an exclusive ``flock`` on the directory's ``.lock`` file (``kit.process_lock``), so two processes
never interleave one.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

EVERY: None = None
"""Where a change names the records of one kind it reads again: all of them."""
#: A temp file older than this was left by a crash, not by a write in progress elsewhere.
STALE_TEMP_AGE_S = 60.0


def remove_stale_temp_files(directory: Path, pattern: str) -> None:
    """Drop temp files a crash left; younger ones may be another process's write in progress."""
    too_old = time.time() - STALE_TEMP_AGE_S
    for temp in directory.glob(pattern):
        with contextlib.suppress(FileNotFoundError):
            if temp.stat().st_mtime < too_old:
                temp.unlink(missing_ok=True)

"""The one place that reads the wall clock, so tests can reason about time."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time in UTC, timezone-aware, truncated to microseconds."""
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """Format a time as RFC 3339 UTC with a ``Z`` suffix."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

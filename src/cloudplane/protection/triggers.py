"""When a time trigger fires: crontab patterns (croniter) and calendar rules (RFC 5545 RRULE,
dateutil), bounded by ``start_time`` and ``end_time``.

Everything here is a pure function of the trigger and a moment, so firing is computed under any
clock: the scheduler passes its own ``now`` and tests pass theirs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from croniter import CroniterBadCronError, CroniterBadDateError, croniter
from dateutil.rrule import rrule, rrulestr

CRONTAB = "crontab"
CALENDAR = "calendar"

_SAMPLES = 6
"""Consecutive firings compared against the minimum interval."""


class InvalidTrigger(ValueError):
    """A pattern that does not parse, or fires more often than allowed."""


@dataclass(frozen=True, slots=True)
class TimeTrigger:
    format: str
    pattern: str
    start_time: datetime
    end_time: datetime | None
    window_s: int

    def first_at_or_after(self, moment: datetime) -> datetime | None:
        """The first firing at or after ``moment`` (and at or after ``start_time``), or None
        when the trigger has no firing left before its ``end_time``."""
        since = max(moment, self.start_time)
        if self.format == CRONTAB:
            # croniter gives the first match strictly after its start: start a microsecond early.
            found: datetime = croniter(self.pattern, since - timedelta(microseconds=1)).get_next(
                datetime
            )
            found = found.astimezone(UTC)
        else:
            following = self._rule().after(since, inc=True)
            if following is None:
                return None
            found = following.astimezone(UTC)
        if self.end_time is not None and found > self.end_time:
            return None
        return found

    def after(self, moment: datetime) -> datetime | None:
        """The first firing strictly after ``moment``."""
        return self.first_at_or_after(moment + timedelta(microseconds=1))

    def firings_between(self, first: datetime, last: datetime, *, limit: int) -> list[datetime]:
        """Firings from ``first`` to ``last`` (both included), at most ``limit`` of them."""
        found: list[datetime] = []
        moment: datetime | None = self.first_at_or_after(first)
        while moment is not None and moment <= last and len(found) < limit:
            found.append(moment)
            moment = self.after(moment)
        return found

    def _rule(self) -> rrule:
        return _parse_rule(self.pattern, self.start_time)


def _parse_rule(pattern: str, start_time: datetime) -> rrule:
    """An RRULE from ``pattern``: a bare rule (``FREQ=DAILY;BYHOUR=2``), an ``RRULE:`` line,
    or an iCalendar VEVENT containing one. ``DTSTART`` is the trigger's ``start_time``."""
    lines = [line.strip() for line in pattern.replace("\\n", "\n").splitlines() if line.strip()]
    rules = [line for line in lines if line.upper().startswith("RRULE:")]
    if not rules and len(lines) == 1 and "FREQ=" in lines[0].upper():
        rules = [f"RRULE:{lines[0]}"]
    if len(rules) != 1:
        raise InvalidTrigger("a calendar pattern holds exactly one RRULE")
    # dateutil compares UNTIL with DTSTART: both in UTC, as naive or aware alike.
    try:
        parsed = rrulestr(rules[0], dtstart=start_time.astimezone(UTC), forceset=False)
    except (ValueError, TypeError) as exc:
        raise InvalidTrigger(f"the RRULE does not parse: {exc}") from exc
    if not isinstance(parsed, rrule):
        raise InvalidTrigger("a calendar pattern holds exactly one RRULE")
    return parsed


def check_trigger(trigger: TimeTrigger, *, min_interval_s: float) -> None:
    """Raise ``InvalidTrigger`` unless the pattern parses and its firings are at least
    ``min_interval_s`` apart (checked over its first few firings)."""
    if trigger.format == CRONTAB:
        try:
            croniter(trigger.pattern, trigger.start_time)
        except (CroniterBadCronError, CroniterBadDateError, ValueError, KeyError) as exc:
            raise InvalidTrigger(f"the crontab pattern does not parse: {exc}") from exc
    elif trigger.format == CALENDAR:
        _parse_rule(trigger.pattern, trigger.start_time)
    else:
        raise InvalidTrigger(f"unknown trigger format {trigger.format!r}")
    firings: list[datetime] = []
    moment = trigger.first_at_or_after(trigger.start_time)
    while moment is not None and len(firings) < _SAMPLES:
        firings.append(moment)
        moment = trigger.after(moment)
    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(firings)]
    if gaps and min(gaps) < min_interval_s:
        raise InvalidTrigger(
            f"the trigger fires {min(gaps):.0f} s apart; the minimum interval is "
            f"{min_interval_s:.0f} s"
        )
    # A window as long as the gap would let one late run overlap the next firing.
    if gaps and trigger.window_s >= min(gaps):
        raise InvalidTrigger("window_s must be shorter than the time between two firings")

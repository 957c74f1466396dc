"""Time as core reads it: the current instant in UTC, and report dates as UTC instants.

Timestamps are stored timezone-aware in UTC; a filter by dates covers whole UTC days,
from 00:00 of the first day up to (not including) 00:00 after the last.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta


def now() -> datetime:
    return datetime.now(UTC)


def day_start(day: date) -> datetime:
    """00:00 UTC of `day`: the inclusive lower bound of a date filter."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def day_after(day: date) -> datetime:
    """00:00 UTC of the day after `day`: the exclusive upper bound of a date filter."""
    return day_start(day + timedelta(days=1))

"""What differs between SQLite and PostgreSQL, and SQL idioms written once for both."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched: the conditional UPDATE that claims a row
    (a sign-in attempt, a queued run, a claim to review) succeeded when this is 1."""
    return int(cast(CursorResult[Any], result).rowcount)

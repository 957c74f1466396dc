"""What differs between SQLite and PostgreSQL, and SQL idioms written once for both."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, Result, Select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

T = TypeVar("T")
# Values bound in one `IN (...)`: SQLite (3.32 and later) binds at most 32,766 parameters in
# one statement; a statement may bind a few more of its own.
IN_CHUNK = 10_000
# An id no row has: a filter by the id of something that may not exist (no champion yet)
# then matches nothing, in one query shape.
NO_ID = -1


def rows_changed(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched: the conditional UPDATE that claims a row
    (a sign-in attempt, a queued run, a claim to review) succeeded when this is 1."""
    return int(cast(CursorResult[Any], result).rowcount)


def is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def skip_locked(session: Session, query: Select[*tuple[Any, ...]], of: Any = None) -> Select[*tuple[Any, ...]]:
    """The query's rows locked for this transaction, skipping rows another transaction holds
    (PostgreSQL's `FOR UPDATE SKIP LOCKED`), so parallel workers take disjoint rows. SQLite
    has one writer at a time: the query is returned as it is, and the caller's conditional
    UPDATE settles any race."""
    return query.with_for_update(skip_locked=True, of=of) if is_postgres(session) else query


def insert_for(session: Session) -> Any:
    """The dialect's `insert`, which has `on_conflict_do_nothing` on both databases."""
    return pg_insert if is_postgres(session) else sqlite_insert


def chunks(values: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    """`values` in slices small enough to bind in one `IN (...)`."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def id_or_none(row: Any | None) -> int:
    """`row.id`, or `NO_ID` when there is no row."""
    return int(row.id) if row is not None else NO_ID

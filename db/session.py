"""Engine and sessionmaker, created once per process and per database URL.

Functions that touch data take a `session`; the caller owns the transaction:

    with session_scope() as session:   # one user action, one transaction
        ...
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core.config import get_settings


def _prepare_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # WAL lets the app read while the worker or a scorer writes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


def engine_for(url: str) -> Engine:
    with _LOCK:
        if url not in _ENGINES:
            _ENGINES[url] = _create_engine(url)
        return _ENGINES[url]


def _create_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            path = Path(parsed.database)
            path.parent.mkdir(parents=True, exist_ok=True)
            # Owner-only: it holds claimants' personal data and password hashes. SQLite gives
            # its -wal and -shm files the database file's permissions.
            path.touch(mode=0o600, exist_ok=True)
        engine = create_engine(url, echo=get_settings().sql_echo, hide_parameters=True)
        _prepare_sqlite(engine)
        return engine
    # hide_parameters: with echo on (or in an error), statements are logged without their values
    # (password hashes, claimants' personal data).
    return create_engine(url, echo=get_settings().sql_echo, pool_pre_ping=True, hide_parameters=True)


def get_engine() -> Engine:
    return engine_for(get_settings().database_url)


@lru_cache(maxsize=8)
def _sessionmaker_for(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=engine_for(url), expire_on_commit=False)


def get_sessionmaker() -> sessionmaker[Session]:
    return _sessionmaker_for(get_settings().database_url)


@contextmanager
def session_scope() -> Iterator[Session]:
    """One transaction: commits on success, rolls back everything on any error."""
    with get_sessionmaker()() as session, session.begin():
        yield session


def reset_caches() -> None:
    """Forget engines and settings (tests switch databases through the environment)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()
    _sessionmaker_for.cache_clear()
    get_settings.cache_clear()

"""The engine: database files are owner-only, and logged statements never carry their values."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from db.session import _create_engine


def test_a_new_sqlite_database_and_its_wal_files_are_readable_by_the_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "claimlens.db"
    engine = _create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
    engine.dispose()
    assert {"claimlens.db", "claimlens.db-wal"} <= set(modes)
    assert {name: mode & 0o077 for name, mode in modes.items()} == dict.fromkeys(modes, 0), modes


def test_echoed_statements_leave_out_their_parameters(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CLAIMLENS_SQL_ECHO", "1")
    from core.config import get_settings

    get_settings.cache_clear()
    engine = _create_engine(f"sqlite:///{tmp_path / 'echo.db'}")
    with caplog.at_level(logging.INFO, logger="sqlalchemy.engine"), engine.connect() as connection:
        connection.execute(text("SELECT :secret"), {"secret": "$argon2id$v=19$secret-hash"})
    engine.dispose()
    get_settings.cache_clear()
    assert "SELECT" in caplog.text and "secret-hash" not in caplog.text

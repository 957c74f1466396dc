"""The audit log is append-only, enforced by the database on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core import audit
from core.auth import Actor, Role
from db import migrate
from db.models import AuditLog
from db.session import engine_for

SOURCE = Path(__file__).parents[2]


@pytest.fixture
def logged(session: Session) -> int:
    with session.begin():
        entry = audit.record(session, actor=Actor("ada", Role.ADJUSTER, 1), action="claim.viewed", entity_type="claim")
        session.flush()
        return entry.id


@pytest.mark.parametrize(
    "statement",
    [
        lambda i: update(AuditLog).where(AuditLog.id == i).values(actor="mallory"),
        lambda i: delete(AuditLog).where(AuditLog.id == i),
        lambda i: text(f"UPDATE audit_log SET details = '{{}}' WHERE id = {i}"),
    ],
)
def test_rows_cannot_be_changed_or_deleted(session: Session, logged: int, statement) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DBAPIError, match="append-only"), session.begin():
        session.execute(statement(logged))
    with session.begin():
        row = session.get(AuditLog, logged, populate_existing=True)
        assert row is not None and row.actor == "ada"
        assert session.scalar(select(func.count()).select_from(AuditLog)) == 1


def test_no_application_code_updates_or_deletes_audit_rows() -> None:
    offenders = []
    for folder in ("core", "db", "training", "dashboard"):
        for path in (SOURCE / folder).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            code = path.read_text()
            for pattern in ("update(AuditLog", "delete(AuditLog", "query(AuditLog"):
                if pattern in code:
                    offenders.append(f"{path.relative_to(SOURCE)}: {pattern}")
    assert offenders == []


@pytest.mark.parametrize(
    "statement",
    [
        "REPLACE INTO audit_log (id, at, actor, actor_role, action, entity_type, details) "
        "VALUES ({i}, CURRENT_TIMESTAMP, 'mallory', 'admin', 'claim.viewed', 'claim', '{{}}')",
        "INSERT INTO audit_log (id, at, actor, actor_role, action, entity_type, details) "
        "VALUES ({i}, CURRENT_TIMESTAMP, 'mallory', 'admin', 'claim.viewed', 'claim', '{{}}') "
        "ON CONFLICT (id) DO UPDATE SET actor = 'mallory'",
    ],
    ids=["replace", "upsert"],
)
def test_an_insert_over_an_existing_row_is_refused(session: Session, logged: int, backend: str, statement: str) -> None:
    if statement.startswith("REPLACE") and backend != "sqlite":
        pytest.skip("REPLACE is SQLite's")
    with pytest.raises(DBAPIError, match="append-only"), session.begin():
        session.execute(text(statement.format(i=logged)))
    with session.begin():
        row = session.get(AuditLog, logged, populate_existing=True)
        assert row is not None and row.actor == "ada"


def _audit_triggers(database_url: str) -> set[str]:
    with engine_for(database_url).connect() as connection:
        if connection.dialect.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'"
        else:
            query = "SELECT tgname FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass AND NOT tgisinternal"
        return set(connection.scalars(text(query)))


def test_the_triggers_survive_every_migration_after_they_were_made(backend: str, database_url: str) -> None:
    expected = (
        {"audit_log_no_update", "audit_log_no_delete"}
        if backend == "sqlite"
        else {"audit_log_append_only", "audit_log_no_truncate"}
    )
    migrate.downgrade(database_url, "0006")
    assert expected <= _audit_triggers(database_url)
    revisions = [
        r.revision
        for r in reversed(list(ScriptDirectory.from_config(migrate.alembic_config(database_url)).walk_revisions()))
    ]
    for revision in revisions[revisions.index("0006") + 1 :]:
        migrate.upgrade(database_url, revision)
        if revision == "0013" and backend == "sqlite":
            expected = expected | {"audit_log_no_replace"}
        assert expected <= _audit_triggers(database_url), f"after {revision}"

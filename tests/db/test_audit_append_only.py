"""The audit log is append-only, enforced by the database on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core import audit
from core.auth import Actor, Role
from db.models import AuditLog

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

"""The audit log: search by actor/action/entity/date, CSV export, and who may read it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from core import audit
from core.auth import Actor, Role
from core.errors import PermissionDenied

COMPLIANCE = Actor("cora", Role.COMPLIANCE, 3)


@pytest.fixture
def logged(session: Session) -> None:
    with session.begin():
        for who, action, entity in [
            ("ada", "claim.viewed", "7"),
            ("abe", "claim.decided", "7"),
            ("ada", "claim.decided", "9"),
            ("=cmd|' /C calc'!A0", "login.failed", None),
        ]:
            audit.record(
                session,
                actor=Actor(who, Role.ADJUSTER),
                action=action,
                entity_type="claim",
                entity_id=entity,
                details={"note": "“quoted”, with comma"},
            )


def test_search_filters_by_actor_action_entity_and_date(session: Session, logged: None) -> None:
    def found(**filters: object) -> list[tuple[str, str]]:
        rows = audit.search(session, actor=COMPLIANCE, filters=audit.AuditFilters(**filters))  # type: ignore[arg-type]
        return [(r.actor, r.action) for r in rows]

    assert found(actor="ada") == [("ada", "claim.decided"), ("ada", "claim.viewed")]
    assert found(action="claim.decided", entity_id="7") == [("abe", "claim.decided")]
    today = datetime.now(UTC).date()
    assert len(found(since=today - timedelta(days=1), until=today + timedelta(days=1))) == 4
    assert found(until=today - timedelta(days=1)) == []
    assert found(actor="' OR '1'='1") == []
    assert found(actor="%") == [] and found(actor="ada; DELETE FROM audit_log") == []
    assert found(actor="ü" * 10_240) == []  # 10 kB of unicode: no rows, no error


def test_csv_export_round_trips_and_defuses_spreadsheet_formulas(session: Session, logged: None) -> None:
    rows = audit.search(session, actor=COMPLIANCE)
    parsed = list(csv.DictReader(io.StringIO(audit.to_csv(rows))))
    assert len(parsed) == 4
    assert {p["actor"] for p in parsed} == {"ada", "abe", "'=cmd|' /C calc'!A0"}
    assert all("“quoted”, with comma" in p["details"] for p in parsed)


@pytest.mark.parametrize("role", [Role.ADJUSTER, Role.MANAGER])
def test_only_compliance_and_administrators_read_the_audit_log(session: Session, role: Role) -> None:
    with pytest.raises(PermissionDenied):
        audit.search(session, actor=Actor("x", role, 1))

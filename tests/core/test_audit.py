"""The audit log: search by actor/action/entity/date, CSV export, and who may read it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.auth import Actor, Role
from core.errors import PermissionDenied
from db.models import AuditLog

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


NOTE = '=HYPERLINK("http://evil.example") photos predate it'


@pytest.fixture
def decided(session: Session) -> dict[str, object]:
    """A few seeded claims, an adjuster who decided one with a note and one without, and a
    user created by an administrator: entries about claims, users and decisions."""
    from sqlalchemy import select

    from core import accounts, review
    from core.auth import cli_actor
    from core.data.generator import GeneratorConfig
    from core.data.seeding import seed
    from db.models import Claim

    admin = cli_actor()
    with session.begin():
        seed(session, actor=admin, config=GeneratorConfig(claims=12, seed=5))
        user = accounts.create_user(
            session, actor=admin, username="ada", role=Role.ADJUSTER, password="a test passphrase"
        )
        ada = Actor("ada", Role.ADJUSTER, user.id)
        first, second = session.scalars(select(Claim).where(Claim.status == "new").order_by(Claim.id).limit(2))
        review.decide(session, actor=ada, claim_id=first.id, expected_version=first.version, decision="deny",
                      reason_code="staged_incident", note=NOTE)  # fmt: skip
        review.decide(session, actor=ada, claim_id=second.id, expected_version=second.version, decision="approve",
                      reason_code="covered_loss")  # fmt: skip
    return {"noted": first.claim_number, "plain": second.claim_number, "noted_id": str(first.id), "user": user.id}


def decisions_of(rows: list[audit.AuditRow]) -> dict[str, audit.AuditRow]:
    return {r.entity: r for r in rows if r.action == "claim.decided"}


def test_entries_name_a_claim_by_its_number_and_a_user_by_name_not_by_internal_id(
    session: Session, decided: dict[str, object]
) -> None:
    rows = audit.search(session, actor=COMPLIANCE)
    shown = decisions_of(rows)
    assert set(shown) == {decided["noted"], decided["plain"]}
    assert shown[str(decided["noted"])].entity_id == decided["noted_id"]  # the id is kept, but not what people read
    (created,) = [r for r in rows if r.action == "user.created"]
    assert created.entity == "ada" and created.entity_id == str(decided["user"])


def test_the_entity_filter_takes_a_claim_number_or_a_username_as_well_as_an_id(
    session: Session, decided: dict[str, object]
) -> None:
    def actions(entity: str, entity_type: str = "") -> list[str]:
        filters = audit.AuditFilters(entity_id=entity, entity_type=entity_type)
        return sorted(r.action for r in audit.search(session, actor=COMPLIANCE, filters=filters))

    assert actions(str(decided["noted"])) == ["claim.decided"]
    assert actions(str(decided["noted_id"]), "claim") == ["claim.decided"]
    assert actions("ada") == ["user.created"]
    assert actions("CLM-NOPE") == []


def test_a_decisions_note_is_in_the_log_and_in_the_csv_export(session: Session, decided: dict[str, object]) -> None:
    rows = audit.search(session, actor=COMPLIANCE)
    shown = decisions_of(rows)
    assert shown[str(decided["noted"])].note == NOTE
    assert shown[str(decided["plain"])].note is None
    exported = {
        p["entity"]: p for p in csv.DictReader(io.StringIO(audit.to_csv(rows))) if p["action"] == "claim.decided"
    }
    assert exported[str(decided["noted"])]["note"] == "'" + NOTE  # defused for spreadsheets
    assert exported[str(decided["plain"])]["note"] == ""
    assert exported[str(decided["noted"])]["entity_id"] == decided["noted_id"]


def test_details_read_as_text_with_each_before_and_after_value_as_a_change(
    session: Session, decided: dict[str, object]
) -> None:
    row = decisions_of(audit.search(session, actor=COMPLIANCE))[str(decided["noted"])]
    assert row.summary.startswith("decision: deny; reason code: staged_incident; prediction id: —; ")
    assert "status: new → decided" in row.summary and "{" not in row.summary and "None" not in row.summary
    assert str(decided["noted"]) not in row.summary  # the entity column shows the claim number already
    assert audit.describe({"alerts": [{"metric": "psi", "value": 0.123456}], "windows": 2, "ok": True}) == (
        "alerts: (metric psi, value 0.1235); windows: 2; ok: yes"
    )
    assert audit.describe({}) == ""


def test_searches_and_exports_of_the_log_are_logged_themselves(session: Session, logged: None) -> None:
    asked = audit.AuditFilters(actor="ada", since=datetime.now(UTC).date())
    with session.begin():
        found = audit.search(session, actor=COMPLIANCE, filters=asked, recorded=True)
        audit.search(session, actor=COMPLIANCE, filters=asked)  # a redraw of the same search: not logged
        audit.record_export(session, actor=COMPLIANCE, filters=asked, rows=len(found))
    with session.begin():
        entries = session.scalars(
            select(AuditLog).where(AuditLog.action.in_(("audit.searched", "audit.exported"))).order_by(AuditLog.id)
        ).all()
    assert [(e.action, e.details["rows"]) for e in entries] == [("audit.searched", 2), ("audit.exported", 2)]
    assert entries[0].details["filters"] == {"actor": "ada", "since": datetime.now(UTC).date().isoformat()}

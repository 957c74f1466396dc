"""Migration 0016: a database of demo claims, stored a column per field, keeps every value
when the fields move into the claim's JSON, reads back through the demo schema as before,
and downgrades back to its columns."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core import claim_store
from db import migrate
from db.models import Claim
from db.session import engine_for

OLD_ROW = {
    "claim_number": "CLM-1", "policy_number": "POL-1", "line_of_business": "auto",
    "policy_start_date": "2025-01-02", "incident_date": "2026-03-01", "incident_hour": 23,
    "report_date": "2026-03-04", "claimed_amount": 1234.5, "insured_value": 20000.0, "prior_claims": 2,
    "police_report": "no", "witnesses": 0, "region": "north", "channel": "web", "claimant_name": "Ann Lee",
    "claimant_contact": "", "narrative": "Rear-ended at the lights.", "status": "new", "version": 1,
}  # fmt: skip


def _insert_old_claim(database_url: str) -> None:
    columns = ", ".join(OLD_ROW)
    values = ", ".join(f":{name}" for name in OLD_ROW)
    with engine_for(database_url).begin() as connection:
        connection.execute(
            text(f"INSERT INTO claims ({columns}, created_at, updated_at) VALUES ({values}, CURRENT_TIMESTAMP,"
                 " CURRENT_TIMESTAMP)"),
            OLD_ROW,
        )  # fmt: skip


def test_demo_claims_keep_every_value_when_their_fields_move_into_json(backend: str, database_url: str) -> None:
    migrate.downgrade(database_url, "0015")
    _insert_old_claim(database_url)
    migrate.upgrade(database_url)
    with Session(engine_for(database_url)) as session:
        claim = session.scalars(select(Claim)).one()
        assert (claim.claim_number, claim.report_date, claim.incident_date, claim.amount) == (
            "CLM-1", date(2026, 3, 4), date(2026, 3, 1), 1234.5,
        )  # fmt: skip
        names = [name for name in OLD_ROW if name not in ("status", "version")]
        stored = claim_store.values(claim, names)
        expected = {**OLD_ROW, "report_date": date(2026, 3, 4), "incident_date": date(2026, 3, 1)}
        assert stored == {name: expected[name] for name in names}
        # and SQL reads each field as its type, as scoring and drift select them
        row = session.execute(select(*claim_store.columns(["incident_hour", "insured_value", "region"]))).one()
        assert tuple(row) == (23, 20000.0, "north")


def test_the_downgrade_puts_the_demo_columns_back(backend: str, database_url: str) -> None:
    migrate.downgrade(database_url, "0015")
    _insert_old_claim(database_url)
    migrate.upgrade(database_url)
    migrate.downgrade(database_url, "0015")
    with engine_for(database_url).connect() as connection:
        row = connection.execute(text("SELECT region, incident_hour, claimed_amount, narrative FROM claims")).one()
    assert tuple(row) == ("north", 23, 1234.5, "Rear-ended at the lights.")

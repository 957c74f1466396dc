"""Migration 0009: claims referred to SIU before it (closed as `decided`) reopen in
`siu_review`, unassigned and with their version bumped; other decided claims stay closed;
the downgrade closes them again."""

from __future__ import annotations

from sqlalchemy import text

from db import migrate
from db.session import engine_for

CLAIM = """
    INSERT INTO claims (id, claim_number, policy_number, line_of_business, policy_start_date, incident_date,
        incident_hour, report_date, claimed_amount, insured_value, prior_claims, police_report, witnesses, region,
        channel, claimant_name, claimant_contact, narrative, status, assigned_to_id, version, created_at, updated_at)
    VALUES (:id, :number, 'P-1', 'auto', '2026-01-01', '2026-02-01', 9, '2026-02-02', 100, 1000, 0, 'no', 0,
        'north', 'web', 'A', 'a@example.com', 'text', 'decided', 1, 3, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
"""
REVIEW = """
    INSERT INTO reviews (claim_id, user_id, decision, reason_code, claim_version, decided_at)
    VALUES (:claim, 1, :decision, 'x', 3, CURRENT_TIMESTAMP)
"""


def states(url: str) -> dict[int, tuple[str, int | None, int]]:
    with engine_for(url).connect() as connection:
        rows = connection.execute(text("SELECT id, status, assigned_to_id, version FROM claims ORDER BY id"))
        return {row[0]: (row[1], row[2], row[3]) for row in rows}


def test_referred_claims_reopen_in_siu_review_and_close_again_on_downgrade(backend: str, database_url: str) -> None:
    migrate.downgrade(database_url, "0008")
    with engine_for(database_url).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO users (id, username, role, is_active, failed_logins, created_at, updated_at) "
                "VALUES (1, 'ada', 'adjuster', TRUE, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
        for claim_id, decisions in {
            1: ["refer_siu"],
            2: ["deny"],
            3: ["request_info", "refer_siu"],
            4: ["refer_siu", "deny"],
        }.items():
            connection.execute(text(CLAIM), {"id": claim_id, "number": f"C-{claim_id}"})
            for decision in decisions:
                connection.execute(text(REVIEW), {"claim": claim_id, "decision": decision})
    migrate.upgrade(database_url)
    assert states(database_url) == {
        1: ("siu_review", None, 4),
        2: ("decided", 1, 3),
        3: ("siu_review", None, 4),
        4: ("decided", 1, 3),  # SIU's outcome already recorded: closed
    }
    migrate.downgrade(database_url, "0008")
    assert [status for status, _, _ in states(database_url).values()] == ["decided"] * 4

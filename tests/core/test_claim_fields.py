"""The claim's fields as people read them: every field a claim shows has a label and a
section, and values are written as people write them."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from core import claim_fields, review
from core.schema import active_schema


def test_every_field_of_the_demo_schema_has_a_label_and_a_section() -> None:
    schema = active_schema()
    assert {f.section for f in schema.all_fields} == {"Claimant", "Policy", "Incident", "Amounts"}
    labels = claim_fields.labels()
    assert len(set(labels.values())) == len(schema.all_fields), "one label per field, none repeated"
    assert claim_fields.label("report_delay") == "Days to report"
    assert claim_fields.label("no_such_field") == "No such field"  # a field a schema dropped still reads


@pytest.mark.parametrize(
    ("kind", "value", "shown"),
    [
        ("money", 243300.0, "$243,300"),
        ("money", 1234.5, "$1,234.50"),
        ("money", 0.0, "$0"),
        ("date", date(2026, 3, 7), "7 Mar 2026"),
        ("hour", 7, "07:00–07:59"),
        ("days", 1, "1 day"),
        ("days", 1200, "1,200 days"),
        ("share", 0.876, "88%"),
        ("count", 3, "3"),
        ("category", "in_person", "in person"),
        ("text", "a_b", "a_b"),
        ("money", review.MASK, review.MASK),
        ("days", None, "—"),
    ],
)
def test_values_are_written_as_people_write_them(kind: claim_fields.Kind, value: object, shown: str) -> None:
    assert claim_fields.format_value(kind, value) == shown


def test_sections_group_in_reading_order_and_derive_what_an_adjuster_would_work_out() -> None:
    fields = {
        "claimant_name": review.MASK, "claimant_contact": review.MASK, "prior_claims": 2, "policy_number": "P-1",
        "line_of_business": "auto", "policy_start_date": date(2026, 1, 1), "claim_number": "C-1",
        "incident_date": date(2026, 1, 11), "incident_hour": 23, "report_date": date(2026, 1, 12),
        "channel": "web", "region": "north", "police_report": "no", "witnesses": 0,
        "claimed_amount": 9000.0, "insured_value": 10000.0,
    }  # fmt: skip
    sections = claim_fields.sections(fields)
    assert [s.title for s in sections] == ["Claimant", "Policy", "Incident", "Amounts"]
    rows = {label: value for s in sections for label, value in s.rows}
    assert rows["Name"] == review.MASK and rows["Prior claims"] == "2"
    assert rows["Policy age at incident"] == "10 days" and rows["Days to report"] == "1 day"
    assert rows["Time of incident"] == "23:00–23:59" and rows["Claimed share of insured value"] == "90%"
    assert claim_fields.sections({"claimed_amount": 5.0, "insured_value": 0.0})[0].rows == (
        ("Claimed", "$5"),
        ("Insured value", "$0"),
        ("Claimed share of insured value", "—"),
    )
    assert "Narrative" not in rows, "the text the encoder reads is shown apart"


def test_a_reason_names_the_field_as_the_review_page_does() -> None:
    claim = {"incident_date": "2026-01-02", "report_date": date(2026, 1, 5), "claimed_amount": 1234.5}
    assert claim_fields.describe("report_delay", claim) == "Days to report: 3 days"
    assert claim_fields.describe("claimed_amount", claim) == "Claimed: $1,234.50"


def test_drift_and_the_review_page_derive_the_same_fields_by_the_same_names() -> None:
    from core.monitoring import drift

    claims = pd.DataFrame(
        {
            "policy_start_date": [date(2026, 1, 1), date(2026, 2, 1)],
            "incident_date": [date(2026, 1, 11), date(2026, 2, 1)],
            "report_date": [date(2026, 1, 12), date(2026, 2, 9)],
            "claimed_amount": [9000.0, 50.0],
            "insured_value": [10000.0, 0.0],
        }
    )
    derived = drift.derive_fields(claims)
    assert derived["policy_age"].tolist() == [10, 0] and derived["report_delay"].tolist() == [1, 8]
    assert derived["amount_vs_insured"].iloc[0] == 0.9 and pd.isna(derived["amount_vs_insured"].iloc[1])
    one = claims.iloc[0].to_dict()
    schema = active_schema()
    assert [claim_fields.value_of(f, one) for f in schema.derived] == [10, 1, 0.9]  # what the review page shows
    assert set(drift.numeric_fields()) <= {f.name for f in schema.all_fields}  # one vocabulary

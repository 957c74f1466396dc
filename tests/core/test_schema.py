"""The claim schema: an insurer's file declared in TOML, read cell by cell as people
write values, and refused with a reason a person can act on when it does not add up."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import schema
from core.config import get_settings
from core.errors import InvalidInput
from core.schema import FieldType, StoredField

MINIMAL = """
name = "motor book"
text = ["notes"]
segments = ["product"]
pii = ["driver"]

[roles]
claim_number = "Ref"
reported = "Notified"

[label]
column = "Fraud"
fraud = ["Y"]

[[fields]]
name = "Ref"
type = "identifier"
required = true

[[fields]]
name = "Notified"
type = "date"
format = "%d/%m/%Y"
required = true

[[fields]]
name = "product"
type = "category"

[[fields]]
name = "driver"
type = "text"

[[fields]]
name = "notes"
type = "text"

[[fields]]
name = "past_claims"
type = "ordinal"
values = ["none", "1", "2 to 4", "more than 4"]
label = "Past claims"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "schema.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_demo_schema_declares_what_the_demo_claim_model_has_always_read() -> None:
    demo = schema.load(schema.DEMO_SCHEMA)
    assert set(demo.model_inputs) == {
        "line_of_business", "policy_start_date", "incident_date", "incident_hour", "report_date", "claimed_amount",
        "insured_value", "prior_claims", "police_report", "witnesses", "region", "channel", "narrative",
    }  # fmt: skip
    assert not set(demo.pii) & {f.name for f in demo.model_fields_read}, "personal data is never a model input"
    assert demo.roles.reported == "report_date" and demo.roles.amount == "claimed_amount"


def test_a_schema_of_other_columns_loads_with_names_matched_case_insensitively(tmp_path: Path) -> None:
    motor = schema.load(_write(tmp_path, MINIMAL))
    assert motor.roles.claim_number == "ref" and motor.label is not None and motor.label.parse("y") is True
    assert [f.name for f in motor.model_fields_read] == ["product", "past_claims"]  # not the driver: pii
    assert motor.model_inputs == ("product", "past_claims", "notes")
    values, errors = motor.parse({"ref": "M-1", "notified": "31/03/2026", "past_claims": "2 TO 4", "product": "?"})
    assert errors == [] and values["notified"] == "2026-03-31" and values["past_claims"] == "2 to 4"
    assert values["product"] is None  # "?" means no value


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ('reported = "Notified"', None),
        ('reported = "Missing"', "roles.reported names 'missing', which is not a declared field"),
        ('reported = "product"', "roles.reported: 'product' must be of type date or timestamp"),
        ('segments = ["product"]\nsegments = ["x"]', "not a TOML file"),
    ],
)
def test_a_schema_that_does_not_add_up_is_refused_with_where_and_why(
    tmp_path: Path, change: str, reason: str | None
) -> None:
    text = MINIMAL.replace('reported = "Notified"', change) if "reported" in change else MINIMAL + change
    if reason is None:
        schema.load(_write(tmp_path, text))
        return
    with pytest.raises(InvalidInput, match=reason):
        schema.load(_write(tmp_path, text))


def test_an_ordinal_field_must_say_its_order_and_pii_must_be_a_declared_field(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="an ordinal field lists its values in order"):
        schema.load(_write(tmp_path, MINIMAL.replace('values = ["none", "1", "2 to 4", "more than 4"]', "")))
    with pytest.raises(InvalidInput, match="pii names 'nobody'"):
        schema.load(_write(tmp_path, MINIMAL.replace('pii = ["driver"]', 'pii = ["nobody"]')))
    with pytest.raises(InvalidInput, match="no such schema file"):
        schema.load(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("declared", "cell", "stored"),
    [
        ({"type": "money"}, "£1,234.56", 1234.56),
        ({"type": "money", "decimal": ","}, "1.234,56 €", 1234.56),
        ({"type": "money"}, "(120.00)", -120.0),
        ({"type": "money"}, 99, 99.0),
        ({"type": "integer"}, "3.0", 3),
        ({"type": "boolean"}, "YES", True),
        ({"type": "boolean"}, "n", False),
        ({"type": "boolean"}, "?", None),
        ({"type": "category"}, "  Urban ", "urban"),
        ({"type": "date", "format": "%d/%m/%Y"}, "01/02/2026", "2026-02-01"),
        ({"type": "date"}, "2026-02-01", "2026-02-01"),
        ({"type": "timestamp"}, "2026-02-01 14:05", "2026-02-01T14:05:00"),
        ({"type": "hour"}, "23", 23),
        ({"type": "number", "missing": ["-1"]}, "-1", None),
        ({"type": "integer"}, "9007199254740993", 9007199254740993),  # past a float's precision
        ({"type": "money"}, "USD 1,000", 1000.0),
    ],
)
def test_cells_are_read_as_people_write_them(declared: dict[str, object], cell: object, stored: object) -> None:
    assert StoredField.model_validate({"name": "x", **declared}).parse(cell) == stored


@pytest.mark.parametrize(
    ("declared", "cell", "reason"),
    [
        ({"type": "money"}, "twelve pounds", "must be an amount"),
        ({"type": "integer"}, "2.5", "must be a whole number"),
        ({"type": "boolean"}, "maybe", "must be yes or no"),
        (
            {"type": "date", "format": "%d/%m/%Y"},
            "2026-02-01",
            r"must be a date written DD/MM/YYYY \(e.g. 31/03/2026\)",
        ),
        ({"type": "date"}, "1/2/2026", "must be an ISO date"),
        ({"type": "hour"}, "24", "must be an hour from 0 to 23"),
        ({"type": "ordinal", "values": ["low", "high"]}, "medium", "must be one of low, high \\(not .medium.\\)"),
        ({"type": "category", "values": ["a", "b"]}, "c", "must be one of a, b"),
        ({"type": "number", "min": 0}, "-3", "must be at least 0"),
        ({"type": "identifier"}, "CLM\u202e1", "invisible character U\\+202E"),
        ({"type": "text", "required": True}, " ", "is required"),
        ({"type": "number"}, "inf", "must be a finite number"),
        ({"type": "money"}, "1e5", "must be an amount"),
        ({"type": "money"}, "10 to 20", "must be an amount"),
        ({"type": "money"}, "1,5", "must be an amount"),  # thousands come in threes
        ({"type": "money", "decimal": ","}, "1,234.56", "must be an amount"),
    ],
)
def test_a_cell_that_is_not_a_value_of_its_field_gets_a_reason(
    declared: dict[str, object], cell: object, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        StoredField.model_validate({"name": "x", **declared}).parse(cell)


def test_dates_out_of_order_are_reported_on_the_later_one() -> None:
    demo = schema.load(schema.DEMO_SCHEMA)
    _, errors = demo.parse({"policy_start_date": "2026-02-01", "incident_date": "2026-01-01"} | _demo_rest())
    assert ("incident_date", "is before policy_start_date") in errors


def _demo_rest() -> dict[str, object]:
    return {
        "claimant_name": "A", "prior_claims": 0, "policy_number": "P", "line_of_business": "auto", "claim_number": "C",
        "incident_hour": 1, "report_date": "2026-03-01", "channel": "web", "region": "north", "police_report": "no",
        "witnesses": 0, "claimed_amount": 1, "insured_value": 2,
    }  # fmt: skip


def test_the_fingerprint_follows_meaning_not_layout(tmp_path: Path) -> None:
    base = schema.load(_write(tmp_path, MINIMAL)).fingerprint()
    assert schema.load(_write(tmp_path, "# a comment\n" + MINIMAL)).fingerprint() == base
    relabelled = MINIMAL.replace('label = "Past claims"', 'label = "Prior claims"')
    assert schema.load(_write(tmp_path, relabelled)).fingerprint() != base


def test_a_model_can_read_a_schema_that_grew_but_not_one_that_lost_or_retyped_its_fields(tmp_path: Path) -> None:
    trained = schema.load(_write(tmp_path, MINIMAL))
    grown = schema.load(_write(tmp_path, MINIMAL + '\n[[fields]]\nname = "vehicle"\ntype = "category"\n'))
    assert grown.compatible_with(trained) == []
    retyped = schema.load(
        _write(tmp_path, MINIMAL.replace('name = "product"\ntype = "category"', 'name = "product"\ntype = "number"'))
    )
    assert retyped.compatible_with(trained) == ["'product' was category and is now number"]
    reordered = schema.load(_write(tmp_path, MINIMAL.replace('"2 to 4", "more than 4"', '"more than 4", "2 to 4"')))
    assert reordered.compatible_with(trained) == ["'past_claims' changed the order of its values"]


def test_the_active_schema_is_the_one_the_setting_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert schema.active_schema().name == "demo"
    monkeypatch.setenv("CLAIMLENS_SCHEMA", str(_write(tmp_path, MINIMAL)))
    get_settings.cache_clear()
    try:
        assert schema.active_schema().name == "motor book"
        assert schema.active_schema().field("past_claims").type is FieldType.ORDINAL
    finally:
        monkeypatch.delenv("CLAIMLENS_SCHEMA")
        get_settings.cache_clear()


def test_every_claim_needs_its_number_and_report_day_even_where_the_schema_forgot_required(tmp_path: Path) -> None:
    lax = schema.load(_write(tmp_path, MINIMAL.replace("required = true\n", "")))
    _, errors = lax.parse({"ref": "", "notified": "?"})
    assert ("ref", "is required") in errors and ("notified", "is required") in errors


def test_personal_data_cannot_be_a_segment_every_role_sees(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="'driver' is personal data, so it cannot be a segment"):
        schema.load(_write(tmp_path, MINIMAL.replace('segments = ["product"]', 'segments = ["product", "driver"]')))


def test_a_model_cannot_read_a_schema_that_took_one_of_its_inputs_out_of_the_model(tmp_path: Path) -> None:
    trained = schema.load(_write(tmp_path, MINIMAL))
    unread = MINIMAL.replace(
        'name = "product"\ntype = "category"', 'name = "product"\ntype = "category"\nmodel = false'
    )
    assert schema.load(_write(tmp_path, unread)).compatible_with(trained) == [
        "'product' is no longer a model input (model = false, or personal data)"
    ]

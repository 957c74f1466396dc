"""Bring your own claims: files in the layouts of real insurers' data go through
`schema infer` → the few edits README "Your own claims" documents → `schema check` →
`import`, on both databases, and every import guarantee holds under their schemas."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import claim_store, schema
from core.auth import cli_actor
from core.config import get_settings
from core.data import importing
from core.schema import FieldType, Schema
from db.models import Claim, ClaimGroundTruth
from tests.fixtures.layouts import INFER, drafted


def count(session: Session, model: type, *where: object) -> int:
    with session.begin():
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


@pytest.fixture
def use_schema(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    def activate(path: Path) -> Schema:
        monkeypatch.setenv("CLAIMLENS_SCHEMA", str(path))
        get_settings.cache_clear()
        return schema.active_schema()

    yield activate
    monkeypatch.delenv("CLAIMLENS_SCHEMA", raising=False)
    get_settings.cache_clear()


def test_the_vehicle_fraud_layout_is_drafted_with_its_bins_in_order(tmp_path: Path) -> None:
    _, path = drafted("fraud_oracle", tmp_path)
    declared = schema.load(path)
    assert declared.field("vehicleprice").values[0] == "less than 20000"
    assert declared.field("vehicleprice").values[-1] == "more than 69000"
    assert declared.field("pastnumberofclaims").values == ("none", "1", "2 to 4", "more than 4")
    assert declared.field("addresschange_claim").type is FieldType.ORDINAL
    assert declared.field("fault").type is FieldType.CATEGORY and declared.text == ()
    assert declared.label is not None and declared.label.fraud == ("1",)
    assert declared.roles.amount is None  # no amount: triage weighs risk and waiting only


def test_the_auto_claims_layout_reads_question_marks_as_missing_and_leaves_out_the_empty_column(
    tmp_path: Path,
) -> None:
    _, path = drafted("insurance_claims", tmp_path)
    declared = schema.load(path)
    assert "_c39" not in {f.name for f in declared.fields}
    assert declared.field("police_report_available").type is FieldType.BOOLEAN
    assert "?" in declared.field("collision_type").missing  # type: ignore[union-attr]
    assert declared.field("incident_hour_of_the_day").type is FieldType.HOUR
    assert declared.roles.amount == "total_claim_amount" and declared.roles.policy_start == "policy_bind_date"
    assert declared.label is not None and declared.label.fraud == ("y",)


def test_the_uk_layout_reads_day_first_dates_pounds_and_notes_and_masks_the_claimant(tmp_path: Path) -> None:
    _, path = drafted("uk_motor", tmp_path)
    declared = schema.load(path)
    assert declared.field("date notified").format == "%d/%m/%Y"  # type: ignore[union-attr]
    assert declared.field("claim value").type is FieldType.MONEY and declared.roles.amount == "claim value"
    assert declared.text == ("adjuster notes",) and set(declared.pii) == {"claimant name", "claimant email"}
    assert not set(declared.pii) & set(declared.model_inputs), "personal data is never a model input"
    assert [d.inputs for d in declared.derived] == [("loss date", "date notified")]


@pytest.mark.parametrize("name", list(INFER))
def test_each_layout_checks_clean_and_imports_whole_with_its_labels(
    name: str, session: Session, tmp_path: Path, use_schema
) -> None:  # type: ignore[no-untyped-def]
    data, path = drafted(name, tmp_path)
    active = use_schema(path)
    checked = importing.check_file(data)
    rows = len(pd.read_csv(data))
    assert (checked.rows, checked.invalid) == (rows, 0)
    with session.begin():
        result = importing.import_file(session, actor=cli_actor(), path=data)[0]
    assert (result.imported, result.rejected) == (rows, 0)
    with session.begin():  # a second import of the same file adds nothing
        again = importing.import_file(session, actor=cli_actor(), path=data)[0]
    assert (again.imported, again.skipped_existing) == (0, rows)
    assert count(session, Claim) == rows
    frauds = int(pd.read_csv(data)[INFER[name][2]].astype(str).str.lower().isin(active.label.fraud).sum())  # type: ignore[union-attr]
    assert count(session, ClaimGroundTruth, ClaimGroundTruth.is_fraud.is_(True)) == frauds
    with session.begin():
        first = session.scalars(select(Claim).order_by(Claim.report_date, Claim.id)).first()
        assert first is not None
        values = claim_store.values(first, [f.name for f in active.fields])
        assert values[active.roles.claim_number] == first.claim_number and not set(values) & {"_c39"}
        readable = session.execute(select(*claim_store.columns(active.model_inputs))).first()
        assert readable is not None and len(readable) == len(active.model_inputs)


def test_a_custom_schema_refuses_a_bad_row_whole_with_its_row_column_and_reason(
    session: Session, tmp_path: Path, use_schema
) -> None:  # type: ignore[no-untyped-def]
    data, path = drafted("uk_motor", tmp_path)
    use_schema(path)
    frame = pd.read_csv(data, dtype=str)
    frame.loc[4, "Claim Value"] = "about two grand"
    frame.loc[6, "Date Notified"] = "2024-02-01"
    frame.to_csv(data, index=False)
    with pytest.raises(importing.ImportRejected) as refused, session.begin():
        importing.import_file(session, actor=cli_actor(), path=data)
    reasons = {(e.row, e.column): e.reason for e in refused.value.errors}
    assert reasons[(5, "claim value")].startswith("must be an amount")
    assert reasons[(7, "date notified")].startswith("must be a date written DD/MM/YYYY (e.g. 31/03/2026)")
    assert count(session, Claim) == 0


def test_a_file_missing_a_column_its_schema_requires_is_refused_naming_it(tmp_path: Path, use_schema) -> None:  # type: ignore[no-untyped-def]
    data, path = drafted("fraud_oracle", tmp_path)
    use_schema(path)
    pd.read_csv(data).drop(columns=["Fault"]).to_csv(data, index=False)
    with pytest.raises(importing.InvalidInput, match="missing required column"):
        importing.check_file(data)

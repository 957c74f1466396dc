"""Import: valid files land whole, invalid files land not at all, broken files get one line."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import schema
from core.auth import Actor, Role, cli_actor
from core.data import importing
from core.data.generator import GeneratorConfig
from core.data.seeding import generate_import_frame, write_frame
from core.errors import InvalidInput, PermissionDenied
from db.models import AuditLog, Claim, ClaimGroundTruth, Message


@pytest.fixture(scope="module")
def sample_frame() -> pd.DataFrame:
    return generate_import_frame(GeneratorConfig(claims=60, seed=21))


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def run_import(session: Session, frame: pd.DataFrame, **kwargs) -> importing.ImportResult:  # type: ignore[no-untyped-def]
    with session.begin():
        result, _ = importing.import_claims(session, actor=cli_actor(), frame=frame, source="test.csv", **kwargs)
    return result


def csv_round_trip(frame: pd.DataFrame, tmp_path: Path) -> pd.DataFrame:
    path = tmp_path / "claims.csv"
    write_frame(frame, path)
    return importing.read_claims_file(path)


def test_generated_file_round_trips_with_messages_and_ground_truth_apart(
    session: Session, sample_frame: pd.DataFrame, tmp_path: Path
) -> None:
    result = run_import(session, csv_round_trip(sample_frame, tmp_path))
    expected_messages = sum(len(json.loads(m)) for m in sample_frame["messages"])
    assert (result.imported, result.messages, result.rejected) == (60, expected_messages, 0)
    assert count(session, Claim) == 60 and count(session, Message) == expected_messages
    stored = session.scalars(select(Claim).order_by(Claim.claim_number)).all()
    first = sample_frame.sort_values("claim_number").iloc[0]
    assert stored[0].fields["narrative"] == first["narrative"]
    assert stored[0].amount == pytest.approx(first["claimed_amount"])
    assert stored[0].fields["line_of_business"] == first["line_of_business"] and "label_fraud" not in stored[0].fields
    assert stored[0].status == "new" and stored[0].version == 1
    truth = session.get(ClaimGroundTruth, stored[0].id)
    assert truth is not None and truth.is_fraud == bool(first["label_fraud"])
    assert truth.oracle_probability == pytest.approx(first["oracle_fraud_probability"])
    assert not hasattr(Claim, "label_fraud")  # labels never sit among the model's inputs


def test_parquet_imports_like_csv(session: Session, sample_frame: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "claims.parquet"
    write_frame(sample_frame, path)
    assert run_import(session, importing.read_claims_file(path)).imported == 60


def test_reimporting_the_same_claims_adds_nothing(session: Session, sample_frame: pd.DataFrame) -> None:
    run_import(session, sample_frame)
    session.rollback()
    again = run_import(session, sample_frame)
    assert (again.imported, again.skipped_existing) == (0, 60)
    assert count(session, Claim) == 60


def corrupt(frame: pd.DataFrame, row: int, **values: object) -> pd.DataFrame:
    broken = frame.copy()
    for column, value in values.items():
        broken[column] = broken[column].astype(object)
        broken.at[row, column] = value
    return broken


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("claimed_amount", -5, "must be at least 0"),
        ("claimed_amount", "lots", "must be an amount"),
        ("line_of_business", "pets", "must be one of auto, property, health, travel"),
        ("incident_date", "2026-13-40", "is not a calendar day"),
        ("report_date", "2025-01-01", "is before incident_date"),
        ("incident_hour", 24, "must be an hour from 0 to 23"),
        ("police_report", "maybe", "must be one of"),
        ("narrative", "x" * (schema.MAX_TEXT_CHARS + 1), "is longer than 20,000 characters"),
        ("narrative", "bad\x00byte", "NUL"),
        ("messages", "[{not json", "not valid JSON"),
        ("claim_number", None, "claim_number"),
    ],
)
def test_an_invalid_row_rejects_the_whole_file_with_row_and_column(
    session: Session, sample_frame: pd.DataFrame, column: str, value: object, reason: str
) -> None:
    broken = corrupt(sample_frame, 7, **{column: value})
    with pytest.raises(importing.ImportRejected) as caught, session.begin():
        importing.import_claims(session, actor=cli_actor(), frame=broken, source="bad.csv")
    error = caught.value.errors[0]
    assert error.row == 8
    assert error.column.startswith(column) or error.column == "row"
    assert reason in error.reason or reason in error.column
    assert count(session, Claim) == 0 and count(session, Message) == 0 and count(session, AuditLog) == 0


def test_duplicate_claim_numbers_inside_a_file_are_reported(session: Session, sample_frame: pd.DataFrame) -> None:
    broken = corrupt(sample_frame, 9, claim_number=sample_frame.at[2, "claim_number"])
    with pytest.raises(importing.ImportRejected) as caught, session.begin():
        importing.import_claims(session, actor=cli_actor(), frame=broken, source="dup.csv")
    assert "first at row 3" in caught.value.errors[0].reason


def test_skip_invalid_imports_the_rest_and_returns_rejects(
    session: Session, sample_frame: pd.DataFrame, tmp_path: Path
) -> None:
    broken = corrupt(corrupt(sample_frame, 0, claimed_amount=-1), 5, line_of_business="boats")
    broken = corrupt(broken, 0, narrative='=HYPERLINK("http://evil.example","x")')
    with session.begin():
        result, report = importing.import_claims(
            session, actor=cli_actor(), frame=broken, source="mixed.csv", skip_invalid=True
        )
    assert (result.imported, result.rejected) == (58, 2)
    rejected_path = tmp_path / "rejected.csv"
    importing.write_rejected(rejected_path, report)
    rejected = pd.read_csv(rejected_path)
    assert rejected_path.stat().st_mode & 0o077 == 0, "owner-only: the rows hold personal data"
    assert list(rejected["row"]) == [1, 6]
    assert "claimed_amount" in rejected["errors"][0] and "boats" in rejected["errors"][1]
    assert rejected["narrative"][0] == '\'=HYPERLINK("http://evil.example","x")'  # text in a spreadsheet


def test_import_is_audited_and_needs_the_permission(session: Session, sample_frame: pd.DataFrame) -> None:
    run_import(session, sample_frame.head(5))
    entry = session.scalars(select(AuditLog)).one()
    assert entry.action == "claims.imported" and entry.details["imported"] == 5
    session.rollback()  # end the read transaction; the next action opens its own
    adjuster = Actor(username="ann", role=Role.ADJUSTER)
    with pytest.raises(PermissionDenied), session.begin():
        importing.import_claims(session, actor=adjuster, frame=sample_frame, source="x.csv")
    assert count(session, Claim) == 5


def test_a_failure_during_load_leaves_the_database_as_before(
    session: Session, sample_frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = importing.insert

    def failing_insert(table):  # type: ignore[no-untyped-def]
        if table is Message:
            raise RuntimeError("disk full")
        return original(table)

    monkeypatch.setattr(importing, "insert", failing_insert)
    with pytest.raises(RuntimeError), session.begin():
        importing.import_claims(session, actor=cli_actor(), frame=sample_frame, source="x.csv")
    assert count(session, Claim) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        ("claim_number,narrative\nCLM-1,caf\xe9\n".encode("latin-1"), "not UTF-8"),
        (b"\x00\x01\x02binary\xff\xfe junk" * 50, "binary"),
        (b"CLM-1,POL-1,auto\n", "missing required column"),
        (b"claim_number,policy_number\n", "missing required column"),
    ],
)
def test_malformed_files_get_a_one_line_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "claims.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidInput, match=message) as caught:
        importing.read_claims_file(path)
    assert "\n" not in str(caught.value)


def test_header_only_file_and_huge_field(tmp_path: Path, sample_frame: pd.DataFrame) -> None:
    path = tmp_path / "header.csv"
    path.write_text(",".join(importing.required_columns()) + "\n")
    with pytest.raises(InvalidInput, match="no rows"):
        importing.read_claims_file(path)
    huge = tmp_path / "huge.csv"
    huge.write_text(",".join(importing.required_columns()) + "\n" + "x" * (importing.MAX_FIELD_BYTES + 10) + "\n")
    with pytest.raises(InvalidInput, match="malformed CSV"):
        importing.read_claims_file(huge)


def test_rows_with_extra_cells_are_rejected(tmp_path: Path, sample_frame: pd.DataFrame) -> None:
    path = tmp_path / "claims.csv"
    write_frame(sample_frame.head(3), path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:2], lines[2] + ",surplus", *lines[3:]]) + "\n")
    report = importing.validate(importing.read_claims_file(path))
    assert [(e.row, e.reason) for e in report.errors] == [(2, "row has more cells than the header")]


def test_corrupt_parquet_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "claims.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(InvalidInput, match="not a readable Parquet file"):
        importing.read_claims_file(path)


def test_claims_the_claims_system_settled_are_stored_closed_with_their_outcome(
    session: Session, sample_frame: pd.DataFrame, tmp_path: Path
) -> None:
    frame = sample_frame.copy()
    frame["closed"] = ["true" if i % 3 else "" for i in range(len(frame))]  # blank: still open
    frame["label_fraud"] = frame["label_fraud"].astype(object).where(frame.index % 3 != 0, None)
    run_import(session, csv_round_trip(frame, tmp_path))
    stored = {c.claim_number: c for c in session.scalars(select(Claim))}
    for i, row in frame.iterrows():
        claim = stored[row["claim_number"]]
        assert (claim.status, claim.is_open) == (("closed", False) if i % 3 else ("new", True))
        truth = session.get(ClaimGroundTruth, claim.id)
        assert truth is not None and truth.is_fraud == (bool(row["label_fraud"]) if i % 3 else None)


def test_a_closed_value_that_is_not_a_yes_or_no_rejects_the_file(session: Session, sample_frame: pd.DataFrame) -> None:
    frame = sample_frame.assign(closed="maybe")
    with pytest.raises(importing.ImportRejected) as rejected, session.begin():
        importing.import_claims(session, actor=cli_actor(), frame=frame, source="test.csv")
    assert rejected.value.errors[0].column == "closed"
    assert count(session, Claim) == 0


def test_files_over_the_size_and_row_limits_are_refused_before_they_are_loaded(
    sample_frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.config import get_settings

    csv_path, parquet_path = tmp_path / "claims.csv", tmp_path / "bomb.parquet"
    write_frame(sample_frame, csv_path)
    bomb = sample_frame.assign(narrative="storm " * 20_000)  # compresses to almost nothing
    write_frame(bomb, parquet_path)
    assert parquet_path.stat().st_size < 200_000
    monkeypatch.setenv("CLAIMLENS_IMPORT_MAX_BYTES", str(csv_path.stat().st_size - 1))
    get_settings.cache_clear()
    with pytest.raises(InvalidInput, match=r"over the limit of .* \(CLAIMLENS_IMPORT_MAX_BYTES\)"):
        importing.read_claims_file(csv_path)
    monkeypatch.setenv("CLAIMLENS_IMPORT_MAX_BYTES", "1000000000")
    monkeypatch.setenv("CLAIMLENS_IMPORT_MAX_ROWS", "59")
    get_settings.cache_clear()
    with pytest.raises(InvalidInput, match="more than 59 rows is over the limit"):
        importing.read_claims_file(csv_path)
    monkeypatch.setenv("CLAIMLENS_IMPORT_MAX_ROWS", "1000")
    monkeypatch.setenv("CLAIMLENS_IMPORT_MAX_DECODED_BYTES", "5000000")
    get_settings.cache_clear()
    monkeypatch.setattr(importing, "_parquet_batches", lambda *a, **k: pytest.fail("the data was decoded"))
    with pytest.raises(InvalidInput, match="CLAIMLENS_IMPORT_MAX_DECODED_BYTES"):
        importing.read_claims_file(parquet_path)
    get_settings.cache_clear()


def chunked_import(session: Session, path: Path, rows: int = 7, **kwargs):  # type: ignore[no-untyped-def]
    with session.begin():
        chunks = importing.read_claims_chunks(path, rows=rows)
        return importing.import_claims(session, actor=cli_actor(), frame=chunks, source=path.name, **kwargs)


def test_a_file_read_in_chunks_lands_whole_in_one_transaction(
    session: Session, sample_frame: pd.DataFrame, tmp_path: Path
) -> None:
    path = tmp_path / "claims.csv"
    write_frame(sample_frame, path)
    result, _ = chunked_import(session, path)
    assert (result.imported, result.rejected) == (60, 0)
    with session.begin():
        assert count(session, Claim) == 60
        assert session.scalar(select(func.count()).where(AuditLog.action == "claims.imported")) == 1


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_an_invalid_row_in_a_late_chunk_rolls_back_the_chunks_already_loaded(
    session: Session, sample_frame: pd.DataFrame, tmp_path: Path, suffix: str
) -> None:
    broken = sample_frame.copy()
    broken.loc[49, "claimed_amount"] = -5.0  # row 50, in the eighth chunk of seven rows
    broken.loc[44, "claim_number"] = broken.loc[2, "claim_number"]  # row 45 repeats row 3, chunks apart
    path = tmp_path / f"claims{suffix}"
    write_frame(broken, path)
    with pytest.raises(importing.ImportRejected) as caught:
        chunked_import(session, path)
    assert [(e.row, e.column) for e in caught.value.errors] == [(45, "claim_number"), (50, "claimed_amount")]
    assert "first at row 3" in caught.value.errors[0].reason
    with session.begin():
        assert count(session, Claim) == 0 and count(session, Message) == 0  # the first six chunks were undone


def test_skipping_invalid_rows_in_chunks_loads_the_rest_and_keeps_the_rejected(
    session: Session, sample_frame: pd.DataFrame, tmp_path: Path
) -> None:
    broken = sample_frame.astype({"claimed_amount": object})
    broken.loc[[9, 49], "claimed_amount"] = "lots"
    path = tmp_path / "claims.csv"
    write_frame(broken, path)
    result, report = chunked_import(session, path, skip_invalid=True)
    assert (result.imported, result.rejected) == (58, 2) and sorted(report.rejected_rows) == [10, 50]
    with session.begin():
        assert count(session, Claim) == 58


def test_a_file_rejected_in_its_last_rows_is_refused_before_any_row_is_written(
    session: Session, sample_frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite has one writer: a rejected file must not hold the write lock while it is read."""
    broken = sample_frame.copy()
    broken.loc[59, "claimed_amount"] = -5.0  # the very last row
    path = tmp_path / "claims.csv"
    write_frame(broken, path)
    loaded: list[int] = []
    real = importing.load_rows
    monkeypatch.setattr(importing, "load_rows", lambda s, rows, **kw: loaded.append(len(rows)) or real(s, rows, **kw))
    with pytest.raises(importing.ImportRejected) as caught, session.begin():
        importing.import_file(session, actor=cli_actor(), path=path, rows=7)
    assert [(e.row, e.column) for e in caught.value.errors] == [(60, "claimed_amount")]
    assert loaded == []  # checked whole first: nothing was inserted, so no lock was taken
    with session.begin():
        result, _ = importing.import_file(session, actor=cli_actor(), path=path, rows=7, skip_invalid=True)
    assert (result.imported, result.rejected) == (59, 1)


def test_a_file_of_invalid_rows_reports_the_first_errors_and_counts_the_rest(
    sample_frame: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importing, "MAX_REPORTED_ERRORS", 5)
    broken = sample_frame.astype({"claimed_amount": object})
    broken["claimed_amount"] = "lots"
    path = tmp_path / "claims.csv"
    write_frame(broken, path)
    checked = importing.check_file(path, rows=7)
    assert (checked.rows, checked.invalid) == (60, 60)
    assert [e.row for e in checked.errors] == [1, 2, 3, 4, 5]  # the first, in file order; the rest only counted

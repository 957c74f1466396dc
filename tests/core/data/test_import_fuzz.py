"""Hostile and broken import files (hypothesis): every case ends in a clear error that
writes nothing, or in a correct import; never a traceback, never a partial write."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import claim_store
from core.auth import cli_actor
from core.config import get_settings
from core.data import importing
from core.data.generator import GeneratorConfig
from core.data.seeding import generate_import_frame
from core.errors import ClaimLensError, InvalidInput
from db.models import AuditLog, Claim, Message
from tests.fixtures import layouts

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
VALID = generate_import_frame(GeneratorConfig(claims=3, seed=5))
HOSTILE_VALUES = st.one_of(
    st.text(max_size=50),
    st.binary(max_size=30).map(lambda b: b.decode("latin-1")),
    st.sampled_from(
        [
            "-1",
            "-0.01",
            "1e308",
            "nan",
            "inf",
            "",
            " ",
            "2026-13-45",
            "1900-01-01",
            "9999-12-31",
            "<script>alert(1)</script>",
            "'; DROP TABLE claims; --",
            "\x00",
            "\u202e\u0007",
            "🚗" * 500,
        ]
    ),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats().map(str),
)


def counts(session: Session) -> tuple[int, int, int]:
    with session.begin():
        return tuple(session.scalar(select(func.count()).select_from(m)) or 0 for m in (Claim, Message, AuditLog))  # type: ignore[return-value]


def attempt_import(session: Session, path: Path) -> tuple[bool, str]:
    """Import as the CLI does, in one transaction; the result or the error message."""
    try:
        with session.begin():
            frame = importing.read_claims_file(path)
            result, _ = importing.import_claims(session, actor=cli_actor(), frame=frame, source=str(path))
        return True, str(result.imported)
    except ClaimLensError as error:
        return False, str(error)


@FUZZ
@given(content=st.binary(max_size=2000))
def test_random_bytes_are_refused_with_a_one_line_reason(session: Session, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "claims.csv"
    path.write_bytes(content)
    before = counts(session)
    ok, message = attempt_import(session, path)
    assert not ok and message and "\n" not in message.strip()
    assert counts(session) == before


@FUZZ
@given(
    cells=st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(list(VALID.columns)), HOSTILE_VALUES), min_size=1, max_size=6
    )
)
def test_hostile_cell_values_import_correctly_or_not_at_all(session: Session, tmp_path: Path, cells) -> None:  # type: ignore[no-untyped-def]
    frame = VALID.copy().astype(object)
    for row, column, value in cells:
        frame.at[row, column] = value
    # Fresh claim numbers per example, unless the fuzzer chose the claim number itself.
    suffix = abs(hash(tuple(map(repr, cells)))) % 10**9
    frame["claim_number"] = [
        c if c in {v for _, col, v in cells if col == "claim_number"} else f"{c}-{suffix}"
        for c in frame["claim_number"]
    ]
    path = tmp_path / "claims.csv"
    frame.to_csv(path, index=False)
    before = counts(session)
    ok, message = attempt_import(session, path)
    after = counts(session)
    if ok:
        assert after[0] - before[0] == int(message) and after[2] == before[2] + 1
    else:
        assert after == before and message


def test_a_one_megabyte_narrative_and_markup_are_stored_as_plain_text(session: Session, tmp_path: Path) -> None:
    frame = VALID.copy()
    frame.loc[0, "narrative"] = "<img src=x onerror=alert(1)> " + "x" * 1_000_000
    frame["claim_number"] = frame["claim_number"] + "-big"
    path = tmp_path / "claims.csv"
    frame.to_csv(path, index=False)
    ok, message = attempt_import(session, path)
    if ok:
        with session.begin():
            stored = session.scalar(
                select(claim_store.column("narrative")).where(Claim.claim_number == frame.loc[0, "claim_number"])
            )
        assert stored is not None and stored.startswith("<img src=x onerror=alert(1)>")
    else:  # refused for its length, the row error naming the column
        assert "nothing was imported" in message
        errors = importing.validate(importing.read_claims_file(path)).errors
        assert [(e.row, e.column) for e in errors] == [(1, "narrative")]


def test_a_million_brackets_in_messages_is_a_row_error_not_a_traceback(session: Session, tmp_path: Path) -> None:
    frame = VALID.copy()
    frame.loc[0, "messages"] = "[" * 1_000_000
    path = tmp_path / "deep.csv"
    frame.to_csv(path, index=False)
    with session.begin():
        report = importing.validate(importing.read_claims_file(path))
    assert [(e.row, e.column) for e in report.errors] == [(1, "messages")]
    assert "nested too deeply" in report.errors[0].reason and len(report.valid) == 2


@pytest.mark.parametrize("header", [("claimed_amount", "claimed_amount"), ("Claimed_Amount ", "claimed_amount")])
def test_a_column_twice_refuses_the_file_naming_it(tmp_path: Path, header: tuple[str, str]) -> None:
    frame = VALID.assign(second=999999.0)  # the second column would win if the file were read
    frame.columns = [header[0] if c == "claimed_amount" else c for c in frame.columns[:-1]] + [header[1]]
    path = tmp_path / "twice.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InvalidInput, match="the same column appears more than once") as refused:
        importing.read_claims_file(path)
    assert repr(header[0]) in str(refused.value) and repr(header[1]) in str(refused.value)


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\u0085", "\x0c", "\x0b", "\x1c", "\x1d", "\x1e"])
def test_line_separators_inside_an_unquoted_narrative_stay_in_the_narrative(
    session: Session, tmp_path: Path, separator: str
) -> None:
    frame = VALID.drop(columns=["messages"]).copy()
    narrative = f"Rear-ended at the lights{separator}the other driver left"
    frame.loc[0, "narrative"] = narrative
    path = tmp_path / "separators.csv"
    frame.to_csv(path, index=False)  # csv quotes only at commas, quotes and \r\n: the separator stays bare
    assert f"{separator}the other driver left," in path.read_text(encoding="utf-8")
    ok, message = attempt_import(session, path)
    assert ok, message
    with session.begin():
        stored = session.scalar(
            select(claim_store.column("narrative")).where(Claim.claim_number == frame.loc[0, "claim_number"])
        )
    assert stored == narrative


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("policy_start_date", "0001-01-01", "is before 1900-01-01"),
        ("report_date", "86400", "must be an ISO date"),
        ("incident_date", "1700000000", "must be an ISO date"),
        ("claim_number", "CLM-\u202e1-9", "U+202E"),
        ("claim_number", "CLM\t42", "U+0009"),
        ("policy_number", "POL-\u200b7", "U+200B"),
        ("messages", '[{"sent_at": "9999-12-31T00:00:00", "channel": "web", "text": "hi"}]', "in the future"),
        ("messages", '[{"sent_at": 86400, "channel": "web", "text": "hi"}]', "must be an ISO date and time"),
    ],
)
def test_implausible_dates_and_invisible_characters_are_row_errors(column: str, value: str, reason: str) -> None:
    frame = VALID.copy()
    frame[column] = frame[column].astype(object)
    frame.loc[0, column] = value
    report = importing.validate(frame)
    assert len(report.valid) == 2 and [e.row for e in report.errors] == [1]
    assert reason in report.errors[0].reason and report.errors[0].column.startswith(column)


@FUZZ
@given(
    layout=st.sampled_from(["uk_motor", "insurance_claims", "fraud_oracle"]),
    cells=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 60), HOSTILE_VALUES), min_size=1, max_size=6),
)
def test_hostile_cells_under_an_insurers_own_schema_import_correctly_or_not_at_all(  # type: ignore[no-untyped-def]
    session: Session, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, layout, cells
) -> None:
    folder = tmp_path_factory.mktemp(layout)
    data, schema_file = layouts.drafted(layout, folder)
    monkeypatch.setenv("CLAIMLENS_SCHEMA", str(schema_file))
    get_settings.cache_clear()
    frame = pd.read_csv(data, dtype=str, keep_default_na=False).head(3).astype(object)
    number = layouts.INFER[layout][0]
    suffix = abs(hash((layout, tuple(map(repr, cells))))) % 10**9
    frame[number] = [f"{value}-{suffix}" for value in frame[number]]  # fresh claims per example
    for row, column, value in cells:
        frame.iat[row, column % len(frame.columns)] = value
    path = folder / "hostile.csv"
    frame.to_csv(path, index=False)
    before = counts(session)
    try:
        ok, message = attempt_import(session, path)
    finally:
        monkeypatch.delenv("CLAIMLENS_SCHEMA")
        get_settings.cache_clear()
    after = counts(session)
    if ok:
        assert after[0] - before[0] == int(message) and after[2] == before[2] + 1
    else:
        assert after == before and message and "\n" not in message.strip()

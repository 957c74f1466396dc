"""The claims import format: reading files, validating every row, loading in bulk.

A file is CSV (UTF-8, header row) or Parquet with one row per claim, in the columns of
the active schema (`core.schema`): its required fields and roles must be there
(`required_columns`), each cell is read as its field declares, and a row's errors name
the column and the reason. Optional besides: the schema's fraud label and
`oracle_fraud_probability` (ground truth, stored apart from model inputs in
`claim_ground_truth`), `messages` (a JSON list of the claimant's messages) and `closed`
(true for a claim the claims system has already settled: it is stored closed, out of the
queue, with its label as its outcome where given).

A file is read `READ_CHUNK_ROWS` rows at a time (`read_claims_chunks`), so a large CSV
never sits in memory whole. `import_file` reads it twice: first to validate every row,
writing nothing (SQLite has one writer, so a file rejected in its last rows must not hold
the write lock while it is read), then to load it in the caller's one transaction. An
invalid row anywhere means `ImportRejected` and the caller's rollback, so a file lands
whole or not at all.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from core import audit, claim_store, clock, exports
from core.auth import Actor, Permission, require
from core.config import get_settings
from core.errors import InvalidInput
from core.schema import FieldType, Schema, active_schema
from db import dialect
from db.models import IMPORTED_CLOSED_STATUS, Claim, ClaimGroundTruth, Message

MAX_MESSAGE_CHARS = 5_000
MAX_MESSAGES_PER_CLAIM = 200
MAX_FIELD_BYTES = 2_000_000  # a cell larger than this is a broken file, not a claim
MAX_REPORTED_ERRORS = 200
INSERT_CHUNK = 2_000
READ_CHUNK_ROWS = 5_000  # rows read, validated and loaded at a time: bounds an import's memory

# Columns any file may have besides its schema's: the claimant's messages, the generator's
# oracle probability (evaluation only) and whether the claims system has settled the claim.
OPTIONAL_COLUMNS = ("messages", "oracle_fraud_probability", "closed")
EXTRA_CELLS = "__extra_cells"


def required_columns(schema: Schema | None = None) -> tuple[str, ...]:
    """The columns a file must have: the schema's required fields and its roles."""
    schema = schema or active_schema()
    roles = [name for name in schema.roles.model_dump().values() if name]
    return tuple(dict.fromkeys([*(f.name for f in schema.fields if f.required), *roles]))


def known_columns(schema: Schema | None = None) -> tuple[str, ...]:
    """Every column import reads: the schema's fields, its label and `OPTIONAL_COLUMNS`."""
    schema = schema or active_schema()
    label = (schema.label.column,) if schema.label else ()
    return (*(f.name for f in schema.fields), *label, *OPTIONAL_COLUMNS)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    return value


_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?")


def _iso_moment(value: Any) -> Any:
    """A before-validator: strings must be ISO 8601 (a number is not read as a Unix time)."""
    if isinstance(value, (date, datetime, pd.Timestamp)):
        return value
    if isinstance(value, str) and _ISO_MOMENT.fullmatch(value.strip()):
        return value.strip()
    raise ValueError("must be an ISO date and time (e.g. 2026-03-31T14:05:00)")


def _plausible(moment: date) -> None:
    earliest = get_settings().import_earliest_date
    if moment < earliest:
        raise ValueError(f"is before {earliest.isoformat()} (CLAIMLENS_IMPORT_EARLIEST_DATE)")


class MessageRow(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    sent_at: datetime
    channel: str = Field(min_length=1, max_length=16)
    direction: Literal["inbound", "outbound"] = "inbound"
    text: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    label_sentiment: Literal["negative", "neutral", "positive"] | None = None

    _text_ok = field_validator("text", "channel")(_no_nul)
    _iso_sent_at = field_validator("sent_at", mode="before")(_iso_moment)

    @field_validator("sent_at")
    @classmethod
    def _sent_in_range(cls, value: datetime) -> datetime:
        _plausible(value.date())
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        if aware > clock.now() + timedelta(days=1):  # a day of clock skew, no more
            raise ValueError("is in the future")
        return value


class ClaimExtras(BaseModel):
    """What a row may carry besides its schema's fields (`OPTIONAL_COLUMNS`)."""

    model_config = ConfigDict(extra="ignore")

    messages: list[MessageRow] = Field(default_factory=list, max_length=MAX_MESSAGES_PER_CLAIM)
    oracle_fraud_probability: float | None = Field(default=None, ge=0, le=1)
    closed: bool = False

    @field_validator("messages", mode="before")
    @classmethod
    def _parse_messages(cls, value: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return []
        if isinstance(value, str):
            try:
                return json.loads(value)
            except json.JSONDecodeError as error:
                raise ValueError(f"not valid JSON ({error.msg})") from None
            except RecursionError:
                raise ValueError("JSON nested too deeply to be a list of messages") from None
        return value

    @field_validator("oracle_fraud_probability", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("closed", mode="before")
    @classmethod
    def _blank_is_open(cls, value: Any) -> Any:
        return False if value is None or (isinstance(value, str) and not value.strip()) else value


@dataclass(frozen=True)
class ClaimRow:
    """One validated claim: its schema fields as stored, its label and the extras."""

    claim_number: str
    values: dict[str, Any]
    label_fraud: bool | None
    extras: ClaimExtras


def parse_row(record: dict[str, Any], schema: Schema) -> tuple[ClaimRow | None, list[tuple[str, str]]]:
    """A file's row as a claim, or the (column, reason) of everything wrong with it."""
    values, errors = schema.parse(record)
    errors += _date_errors(values, schema)
    label: bool | None = None
    if schema.label is not None:
        try:
            label = schema.label.parse(record.get(schema.label.column))
        except (TypeError, ValueError):
            errors.append((schema.label.column, "must be a fraud label"))
    try:
        extras = ClaimExtras.model_validate({k: record[k] for k in OPTIONAL_COLUMNS if k in record})
    except ValidationError as error:
        errors += [(column, reason) for column, reason in _validation_errors(error)]
        extras = None
    if errors or extras is None:
        return None, errors
    return ClaimRow(str(values[schema.roles.claim_number]), values, label, extras), []


def _date_errors(values: dict[str, Any], schema: Schema) -> list[tuple[str, str]]:
    """Dates before `CLAIMLENS_IMPORT_EARLIEST_DATE`, and a report day in the future."""
    errors = []
    for item in schema.fields:
        value = values.get(item.name)
        if item.type not in (FieldType.DATE, FieldType.TIMESTAMP) or value is None:
            continue
        try:
            _plausible(date.fromisoformat(value[:10]))
        except ValueError as error:
            errors.append((item.name, str(error)))
    reported = values.get(schema.roles.reported)
    if reported is not None and date.fromisoformat(reported[:10]) > date.today():
        errors.append((schema.roles.reported, "is in the future"))
    return errors


@dataclass(frozen=True)
class RowError:
    row: int  # 1 = the first data row of the file
    column: str
    reason: str


@dataclass
class ValidationReport:
    valid: list[ClaimRow]
    valid_rows: list[int]
    errors: list[RowError]
    rejected_rows: dict[int, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportResult:
    imported: int
    skipped_existing: int
    rejected: int
    messages: int


@dataclass(frozen=True)
class FileCheck:
    """A file's validation without its rows: how many were read and invalid, the first
    `MAX_REPORTED_ERRORS` errors (in file order)."""

    rows: int
    invalid: int
    errors: list[RowError]


class ImportRejected(InvalidInput):
    """The file has invalid rows and nothing was imported."""

    def __init__(self, errors: list[RowError], total_invalid: int) -> None:
        super().__init__(f"{total_invalid} invalid row(s); nothing was imported")
        self.errors = errors
        self.total_invalid = total_invalid


def read_claims_file(path: Path) -> pd.DataFrame:
    """A whole CSV or Parquet claims file as one frame (see `read_claims_chunks`), or
    `InvalidInput` with a one-line reason."""
    return pd.concat(list(read_claims_chunks(path)), ignore_index=True)


def read_claims_chunks(path: Path, rows: int = READ_CHUNK_ROWS, schema: Schema | None = None) -> Iterator[pd.DataFrame]:
    """A CSV or Parquet claims file, `rows` rows at a time, each with lower-cased column
    names; `InvalidInput` with a one-line reason for a file that is not one (checked
    before the first chunk) or that grows past the row limit (checked as it is read)."""
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    size, limits = path.stat().st_size, get_settings()
    if size == 0:
        raise InvalidInput(f"{path}: the file is empty")
    if size > limits.import_max_bytes:
        raise InvalidInput(
            f"{path}: {size:,} bytes is over the limit of {limits.import_max_bytes:,} "
            "(CLAIMLENS_IMPORT_MAX_BYTES); split the file"
        )
    parquet = path.suffix.lower() in (".parquet", ".pq")
    chunks = _parquet_chunks(path, rows) if parquet else _csv_chunks(path, rows)
    seen = 0
    for number, frame in enumerate(chunks):
        if number == 0:
            frame.columns = _checked_columns(path, frame, schema or active_schema())
        seen += len(frame)
        if seen > limits.import_max_rows:
            raise InvalidInput(
                f"{path}: more than {limits.import_max_rows:,} rows is over the limit "
                "(CLAIMLENS_IMPORT_MAX_ROWS); split the file"
            )
        if number:
            frame.columns = [str(column).strip().lower() for column in frame.columns]
        yield frame


def _checked_columns(path: Path, frame: pd.DataFrame, schema: Schema) -> list[str]:
    """The header's names, lower-cased, or `InvalidInput` for a repeated, missing or empty one."""
    names = [str(column).strip().lower() for column in frame.columns]
    clashes = sorted({name for name in names if names.count(name) > 1})
    if clashes:
        spelled = "; ".join(
            " and ".join(repr(str(c)) for c, n in zip(frame.columns, names, strict=True) if n == name)
            for name in clashes
        )
        raise InvalidInput(f"{path}: the same column appears more than once ({spelled}); keep one of each")
    missing = [column for column in required_columns(schema) if column not in names]
    if missing:
        raise InvalidInput(f"{path}: missing required column(s): {', '.join(missing)} (is the header row there?)")
    if frame.empty:
        raise InvalidInput(f"{path}: the file has a header but no rows")
    return names


def _decoded_size(path: Path, *, stop_after: int) -> tuple[int, int]:
    """(rows, bytes its values take once decoded), counted from the metadata and the text
    columns read dictionary-encoded, so repeated values are not expanded while counting."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    text = [f.name for f in file.schema_arrow if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]
    file = pq.ParquetFile(path, read_dictionary=text)
    decoded = 0
    for batch in file.iter_batches(batch_size=1_000):
        for column in batch.columns:
            if pa.types.is_dictionary(column.type):
                lengths = pc.take(pc.binary_length(column.dictionary), column.indices)
                decoded += (pc.sum(lengths).as_py() or 0) + 8 * len(column)
            else:
                decoded += column.nbytes
        if decoded > stop_after:
            break
    return file.metadata.num_rows, decoded


def _csv_chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    """The CSV's records, decoded and parsed as the file is read. The csv module on a file
    object: records end only at an unquoted \\r or \\n, never at the other characters
    str.splitlines breaks at (U+2028, U+0085, form feed, \\x1c-\\x1e)."""
    csv.field_size_limit(MAX_FIELD_BYTES)
    with path.open("rb") as raw:
        if b"\x00" in raw.read(65536):
            raise InvalidInput(f"{path}: looks like a binary file, not CSV text")
        raw.seek(0)
        reader = csv.reader(io.TextIOWrapper(raw, encoding="utf-8-sig", newline=""))
        try:
            header = next(reader, None)
            if not header:
                raise InvalidInput(f"{path}: the file is empty")
            batch: list[list[str]] = []
            yielded = False
            for record in reader:
                if record:
                    batch.append(record)
                if len(batch) == rows:
                    yield _csv_frame(header, batch)
                    batch, yielded = [], True
        except UnicodeDecodeError:  # the text is decoded in blocks: the row is where reading stopped
            where = f"near row {max(reader.line_num - 1, 1)}" if reader.line_num > 1 else "in the header"
            raise InvalidInput(f"{path}: not UTF-8 text (a bad byte {where}); re-save it as UTF-8") from None
        except csv.Error as error:
            raise InvalidInput(f"{path}: malformed CSV ({error})") from None
        if batch or not yielded:  # a header and no rows is one empty chunk: `_checked_columns` says so
            yield _csv_frame(header, batch)


def _csv_frame(header: list[str], body: list[list[str]]) -> pd.DataFrame:
    """Short rows get None (reported as missing values); rows with extra cells are flagged."""
    width = len(header)
    frame = pd.DataFrame([[*row[:width], *([None] * (width - len(row)))] for row in body], columns=header, dtype=object)
    frame[EXTRA_CELLS] = [len(row) > width for row in body]
    return frame


def _parquet_chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    """The file's rows, after a pass over its metadata and (still dictionary-encoded) text
    has shown what they decode to: a small file of repeated values can decode to gigabytes."""
    limits = get_settings()
    try:
        count, decoded = _decoded_size(path, stop_after=limits.import_max_decoded_bytes)
    except Exception as error:  # pyarrow raises many types for corrupt files
        raise InvalidInput(f"{path}: not a readable Parquet file ({type(error).__name__})") from None
    if count > limits.import_max_rows or decoded > limits.import_max_decoded_bytes:
        raise InvalidInput(
            f"{path}: {count:,} rows decoding to {decoded:,}+ bytes is over the limits "
            f"({limits.import_max_rows:,} rows, {limits.import_max_decoded_bytes:,} bytes: "
            "CLAIMLENS_IMPORT_MAX_ROWS, CLAIMLENS_IMPORT_MAX_DECODED_BYTES); split the file"
        )
    try:
        yield from _parquet_batches(path, rows)
    except Exception as error:  # pyarrow raises many types for corrupt files
        raise InvalidInput(f"{path}: not a readable Parquet file ({type(error).__name__})") from None


def _parquet_batches(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    if file.metadata.num_rows == 0:
        yield file.schema_arrow.empty_table().to_pandas().astype(object)
    for batch in file.iter_batches(batch_size=rows):
        yield batch.to_pandas().astype(object)


def validate(
    frame: pd.DataFrame,
    *,
    first_row: int = 1,
    first_row_of: dict[str, int] | None = None,
    schema: Schema | None = None,
) -> ValidationReport:
    """Every row of `frame`, numbered from `first_row` (a later chunk of a file goes on
    counting); `first_row_of` (claim number → row) carries the numbers already seen in
    earlier chunks, so a duplicate is found across the whole file."""
    schema = schema or active_schema()
    columns = [c for c in dict.fromkeys(known_columns(schema)) if c in frame.columns]
    report = ValidationReport(valid=[], valid_rows=[], errors=[])
    first_row_of = {} if first_row_of is None else first_row_of
    extra_cells = frame[EXTRA_CELLS].tolist() if EXTRA_CELLS in frame.columns else [False] * len(frame)
    for offset, record in enumerate(frame[columns].to_dict("records")):
        index = first_row + offset
        record = {k: (None if _is_missing(v) else v) for k, v in record.items()}
        if extra_cells[offset]:
            report.rejected_rows[index] = record
            report.errors.append(RowError(index, "row", "row has more cells than the header"))
            continue
        try:
            row, problems = parse_row(record, schema)
        except (RecursionError, ValueError, TypeError, OverflowError) as error:  # a value no validator foresaw
            report.rejected_rows[index] = record
            report.errors.append(RowError(index, "row", f"could not be read ({type(error).__name__})"))
            continue
        if row is None:
            report.rejected_rows[index] = record
            report.errors.extend(RowError(index, column, reason) for column, reason in problems)
            continue
        if row.claim_number in first_row_of:
            report.rejected_rows[index] = record
            number = schema.roles.claim_number
            reason = f"duplicate {number} in the file (first at row {first_row_of[row.claim_number]})"
            report.errors.append(RowError(index, number, reason))
            continue
        first_row_of[row.claim_number] = index
        report.valid.append(row)
        report.valid_rows.append(index)
    return report


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value))


def _validation_errors(error: ValidationError) -> list[tuple[str, str]]:
    return [
        (".".join(str(part) for part in item["loc"]) or "row", item["msg"].removeprefix("Value error, "))
        for item in error.errors(include_url=False, include_input=False)
    ]


RowsDone = Callable[[int], None]  # told the rows read so far, after each chunk (progress)


def check_file(
    path: Path, rows: int = READ_CHUNK_ROWS, schema: Schema | None = None, on_rows: RowsDone | None = None
) -> FileCheck:
    """Validate every row of a claims file, a chunk at a time, touching no database: the
    memory it keeps is a chunk, the claim numbers seen (for duplicates) and the reported
    errors. `InvalidInput` for a file that cannot be read as one."""
    first_row_of: dict[str, int] = {}
    errors: list[RowError] = []
    read = invalid = 0
    for chunk in read_claims_chunks(path, rows=rows, schema=schema):
        checked = validate(chunk, first_row=read + 1, first_row_of=first_row_of, schema=schema)
        read += len(chunk)
        invalid += len(checked.rejected_rows)
        errors += checked.errors[: MAX_REPORTED_ERRORS - len(errors)]
        if on_rows is not None:
            on_rows(read)
    return FileCheck(rows=read, invalid=invalid, errors=errors)


def import_file(
    session: Session,
    *,
    actor: Actor,
    path: Path,
    skip_invalid: bool = False,
    rows: int = READ_CHUNK_ROWS,
    on_rows: RowsDone | None = None,
    source: str | None = None,
) -> tuple[ImportResult, ValidationReport]:
    """Import a claims file whole, or raise `ImportRejected` having written nothing. Unless
    skipping invalid rows the file is checked first (`check_file`), so a rejected file never
    holds the database's write lock; then it is read again and loaded (`import_claims`).
    The caller owns the transaction and rolls it back on an error."""
    require(actor, Permission.IMPORT_CLAIMS)
    if not skip_invalid:
        checked = check_file(path, rows=rows)
        if checked.invalid:
            raise ImportRejected(checked.errors, checked.invalid)
    chunks = read_claims_chunks(path, rows=rows)  # a file changed since the check is checked again
    return import_claims(
        session, actor=actor, frame=chunks, source=source or path.name, skip_invalid=skip_invalid, on_rows=on_rows
    )


def import_claims(
    session: Session,
    *,
    actor: Actor,
    frame: pd.DataFrame | Iterable[pd.DataFrame],
    source: str,
    skip_invalid: bool = False,
    on_rows: RowsDone | None = None,
) -> tuple[ImportResult, ValidationReport]:
    """Validate and load a frame, or a file's chunks (`read_claims_chunks`) one at a time.
    On an invalid row, unless skipping, raise `ImportRejected` once the whole file has
    been checked (so every error is reported); the caller's rollback then undoes the
    chunks already loaded (`import_file` checks a file before it loads any). With
    `skip_invalid` the report returned holds the rejected rows and their errors, for
    `write_rejected`; never the valid rows (they are in the database)."""
    require(actor, Permission.IMPORT_CLAIMS)
    chunks = [frame] if isinstance(frame, pd.DataFrame) else frame
    report = ValidationReport(valid=[], valid_rows=[], errors=[])
    first_row_of: dict[str, int] = {}
    imported = skipped = messages = invalid = 0
    next_row = 1
    for chunk in chunks:
        checked = validate(chunk, first_row=next_row, first_row_of=first_row_of)
        next_row += len(chunk)
        invalid += len(checked.rejected_rows)
        if skip_invalid:
            report.errors += checked.errors
            report.rejected_rows.update(checked.rejected_rows)
        else:  # refused in the end: keep only what the refusal reports
            report.errors += checked.errors[: MAX_REPORTED_ERRORS - len(report.errors)]
        if invalid and not skip_invalid:
            continue  # nothing more is loaded; the rest is read to report its errors too
        added, present, sent = load_rows(session, checked.valid, source=source)
        imported, skipped, messages = imported + added, skipped + present, messages + sent
        if on_rows is not None:
            on_rows(next_row - 1)
    if invalid and not skip_invalid:
        raise ImportRejected(report.errors, invalid)
    result = ImportResult(imported=imported, skipped_existing=skipped, rejected=invalid, messages=messages)
    audit.record(
        session, actor=actor, action="claims.imported", entity_type="import", entity_id=source[-64:],
        details={"imported": imported, "skipped_existing": skipped, "rejected": invalid, "messages": messages},
    )  # fmt: skip
    return result, report


def load_rows(session: Session, rows: list[ClaimRow], *, source: str) -> tuple[int, int, int]:
    """Insert claims that are not stored yet, with their messages and ground truth."""
    existing = _existing_claim_numbers(session, [row.claim_number for row in rows])
    new_rows = [row for row in rows if row.claim_number not in existing]
    message_count = 0
    schema = active_schema()
    for start in range(0, len(new_rows), INSERT_CHUNK):
        chunk = new_rows[start : start + INSERT_CHUNK]
        claim_values = [
            {
                **claim_store.row_values(row.values, schema),
                "status": IMPORTED_CLOSED_STATUS if row.extras.closed else "new",
            }
            for row in chunk
        ]
        ids = session.scalars(insert(Claim).returning(Claim.id, sort_by_parameter_order=True), claim_values).all()
        truth = [
            {"claim_id": claim_id, "is_fraud": row.label_fraud,
             "oracle_probability": row.extras.oracle_fraud_probability, "source": source[-64:]}
            for claim_id, row in zip(ids, chunk, strict=True)
            if row.label_fraud is not None or row.extras.oracle_fraud_probability is not None
        ]  # fmt: skip
        if truth:
            session.execute(insert(ClaimGroundTruth), truth)
        message_values = [
            {"claim_id": claim_id, "sent_at": m.sent_at, "channel": m.channel, "direction": m.direction,
             "text": m.text, "true_sentiment": m.label_sentiment}
            for claim_id, row in zip(ids, chunk, strict=True)
            for m in row.extras.messages
        ]  # fmt: skip
        if message_values:
            session.execute(insert(Message), message_values)
        message_count += len(message_values)
    return len(new_rows), len(rows) - len(new_rows), message_count


def _existing_claim_numbers(session: Session, numbers: list[str]) -> set[str]:
    found: set[str] = set()
    for batch in dialect.chunks(numbers):
        found.update(session.scalars(select(Claim.claim_number).where(Claim.claim_number.in_(batch))))
    return found


@contextmanager
def staged_upload(name: str, data: bytes) -> Iterator[Path]:
    """An uploaded file as a file on disk (owner-only: it holds personal data) for
    `check_file` and `import_file`, removed afterwards; CSV unless it is named Parquet."""
    suffix = ".parquet" if Path(name).suffix.lower() in (".parquet", ".pq") else ".csv"
    with tempfile.TemporaryDirectory(prefix="claimlens-upload-") as folder:
        path = Path(folder) / f"upload{suffix}"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(descriptor, "wb") as out:
            out.write(data)
        yield path


def check_upload(*, actor: Actor, name: str, data: bytes, on_rows: RowsDone | None = None) -> FileCheck:
    """`check_file` for a file uploaded in the app, by someone who may import."""
    require(actor, Permission.IMPORT_CLAIMS)
    with staged_upload(name, data) as path:
        try:
            return check_file(path, on_rows=on_rows)
        except InvalidInput as error:
            raise InvalidInput(str(error).replace(str(path), name[-120:])) from None


def import_upload(
    session: Session, *, actor: Actor, name: str, data: bytes, skip_invalid: bool, on_rows: RowsDone | None = None
) -> tuple[ImportResult, ValidationReport]:
    """`import_file` for a file uploaded in the app (audited as an import of `name`)."""
    require(actor, Permission.IMPORT_CLAIMS)  # before the upload touches the disk
    with staged_upload(name, data) as path:
        try:
            return import_file(session, actor=actor, path=path, skip_invalid=skip_invalid, on_rows=on_rows, source=name)
        except ImportRejected:
            raise
        except InvalidInput as error:
            raise InvalidInput(str(error).replace(str(path), name[-120:])) from None


def rejected_csv(report: ValidationReport) -> bytes:
    """`write_rejected`'s file as bytes, for a download."""
    with tempfile.TemporaryDirectory(prefix="claimlens-rejected-") as folder:
        path = Path(folder) / "rejected.csv"
        write_rejected(path, report)
        return path.read_bytes()


def write_rejected(path: Path, report: ValidationReport) -> None:
    """Rejected rows with their reasons, so they can be fixed and re-imported; every cell
    quoted and defused, since the file is opened in a spreadsheet (`core.exports`)."""
    reasons: dict[int, list[str]] = {}
    for error in report.errors:
        reasons.setdefault(error.row, []).append(f"{error.column}: {error.reason}")
    columns = list(dict.fromkeys(column for values in report.rejected_rows.values() for column in values))
    rows = (
        [row, "; ".join(reasons.get(row, [])), *(values.get(column) for column in columns)]
        for row, values in report.rejected_rows.items()
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # owner-only: personal data
    with open(descriptor, "w", encoding="utf-8", newline="") as out:
        exports.write_csv(out, ["row", "errors", *columns], rows)


def to_import_frame(claims: pd.DataFrame, messages: pd.DataFrame) -> pd.DataFrame:
    """Join generated messages into the claims frame as the `messages` JSON column."""
    grouped: dict[str, list[dict[str, Any]]] = {}
    for record in messages.to_dict("records"):
        number = record.pop("claim_number")
        record["sent_at"] = pd.Timestamp(record["sent_at"]).isoformat()
        grouped.setdefault(number, []).append(record)
    frame = claims.copy()
    frame["messages"] = [json.dumps(grouped.get(number, [])) for number in frame["claim_number"]]
    return frame

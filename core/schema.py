"""The claim schema: the shape of an insurer's claims, declared in a TOML file.

A schema names the columns of the insurer's claims file and says what each means: which
is the claim number and which the day it was reported (the two every claim needs), the
structured fields the claim model reads (numbers, integers, booleans, categories, ordinal
bins such as `"2 to 4"`, money written as `£1,234.56`), the values derived from them
(days between two dates, a ratio of two amounts, the hour of a timestamp), the free-text
columns the encoder reads, the fraud label, the segments that monitoring and the queue
group by, and the personal data masked for roles without `claims.view_pii`. Every field
has the label people read in explanations, the review page and drift charts.

`schemas/demo.toml` describes the demo generator's world; `CLAIMLENS_SCHEMA` picks the
active one (`active_schema`). Nothing else in core names a claim column.

A cell is read with `Schema.parse`: each stored field turns a file's cell into the value
kept in the claim's JSON fields (numbers as numbers, dates as ISO strings, categories
lower-cased), or raises `ValueError` with a reason a person can act on.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from datetime import date, datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core.errors import InvalidInput

DEMO_SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "demo.toml"
DEFAULT_MISSING = ("", "na", "n/a", "nan", "null", "?")  # not "none": a bin of its own ("none", "1 to 2")
TRUE_VALUES = ("1", "true", "t", "yes", "y")
FALSE_VALUES = ("0", "false", "f", "no", "n")
MAX_TEXT_CHARS = 20_000
MAX_VALUE_CHARS = 128  # a category, ordinal bin or identifier longer than this is not one
ISO = "ISO"


class FieldType(StrEnum):
    """How a stored column is read and, for the model, encoded."""

    NUMBER = "number"  # a real number
    INTEGER = "integer"  # a whole number (counts)
    MONEY = "money"  # an amount, written with or without currency and thousands separators
    BOOLEAN = "boolean"  # yes/no in any of the usual spellings
    CATEGORY = "category"  # one of a set of labels, compared lower-cased
    ORDINAL = "ordinal"  # one of an ordered set of labels (bins such as "1 to 7")
    HOUR = "hour"  # an hour of the day, 0-23
    DATE = "date"  # a calendar day, in the declared format
    TIMESTAMP = "timestamp"  # a day and a time, in the declared format
    TEXT = "text"  # free text: the encoder reads it when declared in `text`
    IDENTIFIER = "identifier"  # a printable code (claim or policy number, a reference)


NUMERIC_TYPES = (FieldType.NUMBER, FieldType.INTEGER, FieldType.MONEY)
# What a model can read of each type (dates and timestamps enter through derived fields).
MODEL_TYPES = (*NUMERIC_TYPES, FieldType.BOOLEAN, FieldType.CATEGORY, FieldType.ORDINAL, FieldType.HOUR)
Scale = Literal["linear", "log"]
_NAME = re.compile(r"[^\x00-\x1f\x7f\"'\\\[\]$]{1,64}")  # no quotes, brackets or $: they end a JSON path


def tidy(name: str) -> str:
    """A column name as a label: `AddressChange_Claim` → "Address change claim"."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ")
    return " ".join(spaced.split()).capitalize()


def _column_name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not a column name (up to 64 characters; no quotes, brackets or $)")
    return value.lower()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StoredField(_Strict):
    """One column of the insurer's file."""

    name: str  # the column's name in the file (matched case-insensitively)
    type: FieldType
    label: str = ""  # what people read; the name, tidied, when not given
    section: str = "Claim"  # where the review page shows it
    required: bool = False  # a row without a value is refused
    model: bool | None = None  # read by the claim model; default: every field of a model type
    missing: tuple[str, ...] = DEFAULT_MISSING  # cells that mean "no value", compared lower-cased
    # Dates and timestamps: ISO 8601, or a strptime format such as "%d/%m/%Y".
    format: str = ISO
    # Money: the decimal separator ("," for 1.234,56 €); the other one separates thousands.
    decimal: Literal[".", ","] = "."
    currency: str = ""  # shown before amounts on the review page ("£"); any symbol is accepted on import
    values: tuple[str, ...] = ()  # categories: the only values accepted (empty: any); ordinals: the order
    min: float | None = None
    max: float | None = None
    scale: Scale = "linear"  # "log": the model reads log(1 + value), for values that span decades
    floor: float | None = None  # the model reads values below this as this
    ceiling: float | None = None  # ... and values above this as this
    max_length: int | None = None  # text and identifiers

    _plain_name = field_validator("name")(_column_name)

    @field_validator("missing", "values")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(str(v).strip().lower() for v in value)

    @model_validator(mode="after")
    def _consistent(self) -> StoredField:
        if self.type is FieldType.ORDINAL and len(self.values) < 2:
            raise ValueError(f"{self.name}: an ordinal field lists its values in order (`values = [...]`)")
        if self.format != ISO and self.type not in (FieldType.DATE, FieldType.TIMESTAMP):
            raise ValueError(f"{self.name}: `format` is for date and timestamp fields")
        if self.model and self.type not in MODEL_TYPES:
            raise ValueError(f"{self.name}: a model cannot read a {self.type} field directly")
        return self

    @property
    def display(self) -> str:
        return self.label or tidy(self.name)

    def parse(self, cell: Any) -> Any:
        """The value to store for a file's cell; None for a missing one. `ValueError` with
        a reason when the cell is not a value of this field."""
        if _blank(cell) or (isinstance(cell, str) and cell.strip().lower() in self.missing):
            if self.required:
                raise ValueError("is required")
            return None
        value = _READERS[self.type](self, cell)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if self.min is not None and value < self.min:
                raise ValueError(f"must be at least {_number(self.min)}")
            if self.max is not None and value > self.max:
                raise ValueError(f"must be at most {_number(self.max)}")
        return value


class DerivedKind(StrEnum):
    DAYS_BETWEEN = "days_between"  # `end` - `start`, in days
    RATIO = "ratio"  # `numerator` / `denominator`; none where the denominator is not positive
    HOUR_OF = "hour_of"  # the hour of a timestamp


class DerivedField(_Strict):
    """A value computed from stored fields, as an adjuster would work it out."""

    name: str
    kind: DerivedKind
    label: str = ""
    section: str = "Claim"
    inputs: tuple[str, ...]  # days_between: (start, end); ratio: (numerator, denominator); hour_of: (timestamp,)
    model: bool = True
    scale: Scale = "linear"
    floor: float | None = None
    ceiling: float | None = None

    _plain_name = field_validator("name")(_column_name)

    @field_validator("inputs")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.lower() for v in value)

    @property
    def display(self) -> str:
        return self.label or tidy(self.name)

    @property
    def type(self) -> FieldType:
        return FieldType.HOUR if self.kind is DerivedKind.HOUR_OF else FieldType.NUMBER


AnyField = StoredField | DerivedField


class Roles(_Strict):
    """Which stored fields mean what every part of ClaimLens needs to know."""

    claim_number: str  # identity: one claim per value, re-imports never duplicate it
    reported: str  # the day the claim was reported: time splits, drift windows, the SLA
    policy_number: str | None = None
    incident: str | None = None  # the day of the loss
    policy_start: str | None = None
    amount: str | None = None  # the amount claimed: triage weighs it when present
    insured: str | None = None  # the insured value

    @field_validator("*")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value else value


class FraudLabel(_Strict):
    """The column that says whether a claim was fraud, when the file has one."""

    column: str
    fraud: tuple[str, ...] = ("1", "true", "yes", "y")  # compared lower-cased; any other value is not fraud

    @field_validator("column")
    @classmethod
    def _lower_column(cls, value: str) -> str:
        return value.lower()

    @field_validator("fraud")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.strip().lower() for v in value)

    def parse(self, cell: Any) -> bool | None:
        if _blank(cell):
            return None
        if isinstance(cell, bool):
            return cell
        text = str(cell.item() if hasattr(cell, "item") else cell).strip().lower()
        if text.endswith(".0"):
            text = text[:-2]
        return None if text in DEFAULT_MISSING else text in self.fraud


class Schema(_Strict):
    """The whole declaration (see the module docstring and README "Your own claims")."""

    name: str
    description: str = ""
    roles: Roles
    fields: tuple[StoredField, ...] = Field(min_length=1)
    derived: tuple[DerivedField, ...] = ()
    text: tuple[str, ...] = ()  # free-text columns the encoder reads, in order, joined
    label: FraudLabel | None = None
    segments: tuple[str, ...] = ()  # queue filters, drift segments, fairness reports
    pii: tuple[str, ...] = ()  # masked for roles without claims.view_pii; model inputs only if declared

    @field_validator("text", "segments", "pii")
    @classmethod
    def _lower(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(v.lower() for v in value)

    @model_validator(mode="after")
    def _references_resolve(self) -> Schema:
        stored = {f.name: f for f in self.fields}
        if len(stored) != len(self.fields):
            raise ValueError(f"a field is declared twice: {_repeated([f.name for f in self.fields])}")
        names = [*stored, *(d.name for d in self.derived)]
        if len(set(names)) != len(names):
            raise ValueError(f"a derived field has a stored field's name: {_repeated(names)}")
        wanted = {"claim_number": (FieldType.IDENTIFIER,), "reported": (FieldType.DATE, FieldType.TIMESTAMP),
                  "policy_number": (FieldType.IDENTIFIER,), "incident": (FieldType.DATE, FieldType.TIMESTAMP),
                  "policy_start": (FieldType.DATE, FieldType.TIMESTAMP), "amount": NUMERIC_TYPES,
                  "insured": NUMERIC_TYPES}  # fmt: skip
        for role, types in wanted.items():
            column = getattr(self.roles, role)
            if column is None:
                continue
            if column not in stored:
                raise ValueError(f"roles.{role} names {column!r}, which is not a declared field")
            if stored[column].type not in types:
                raise ValueError(f"roles.{role}: {column!r} must be of type {' or '.join(types)}")
        for derived in self.derived:
            _check_derived(derived, stored)
        for group, columns in (("text", self.text), ("segments", self.segments), ("pii", self.pii)):
            for column in columns:
                if column not in stored:
                    raise ValueError(f"{group} names {column!r}, which is not a declared field")
        for column in self.text:
            if stored[column].type is not FieldType.TEXT:
                raise ValueError(f"text: {column!r} must be of type text")
        for column in set(self.pii) & set(self.segments):
            raise ValueError(
                f"{column!r} is personal data, so it cannot be a segment (segments are shown to every role)"
            )
        if self.label and self.label.column in stored:
            raise ValueError(f"label: {self.label.column!r} is the answer, so it cannot also be a field")
        return self

    # --- what the rest of ClaimLens reads -------------------------------------------------

    def field(self, name: str) -> AnyField:
        """A stored or derived field by name (KeyError when there is none)."""
        for item in self.all_fields:
            if item.name == name:
                return item
        raise KeyError(name)

    @property
    def all_fields(self) -> tuple[AnyField, ...]:
        everything: tuple[AnyField, ...] = (*self.fields, *self.derived)
        return everything

    @property
    def model_fields_read(self) -> tuple[AnyField, ...]:
        """The fields the claim model reads, in encoding order (stored, then derived):
        every field of a model type unless it says `model = false`; personal data only
        when it says `model = true`."""
        stored = tuple(
            f for f in self.fields if f.model or (f.model is None and f.type in MODEL_TYPES and f.name not in self.pii)
        )
        return (*stored, *(d for d in self.derived if d.model))

    @property
    def model_inputs(self) -> tuple[str, ...]:
        """The stored columns a claim model needs: its fields, their inputs, the text."""
        needed = [
            name
            for item in self.model_fields_read
            for name in (item.inputs if isinstance(item, DerivedField) else (item.name,))
        ]
        return tuple(dict.fromkeys([*needed, *self.text]))

    @property
    def labels(self) -> dict[str, str]:
        return {item.name: item.display for item in self.all_fields}

    def fingerprint(self) -> str:
        """SHA-256 of the schema's meaning (not its comments or layout): model versions
        record it, so a scorer can tell which schema a model was trained on."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def parse(self, record: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """One row of a file as stored values (column → value) and the errors found
        (column, reason); `record`'s keys are lower-cased column names."""
        values: dict[str, Any] = {}
        errors: list[tuple[str, str]] = []
        needed = (self.roles.claim_number, self.roles.reported)  # every claim has both, declared required or not
        for item in self.fields:
            try:
                values[item.name] = item.parse(record.get(item.name))
            except ValueError as error:
                errors.append((item.name, str(error)))
                continue
            if values[item.name] is None and item.name in needed:
                errors.append((item.name, "is required"))
        if not errors:
            errors += self._order_errors(values)
        return values, errors

    def _order_errors(self, values: Mapping[str, Any]) -> list[tuple[str, str]]:
        """policy start ≤ incident ≤ report, where the schema has them."""
        order = [c for c in (self.roles.policy_start, self.roles.incident, self.roles.reported) if c]
        days = [(c, values.get(c)) for c in order if values.get(c) is not None]
        errors = []
        for (first, a), (second, b) in itertools.pairwise(days):
            if str(a)[:10] > str(b)[:10]:
                errors.append((second, f"is before {first}"))
        return errors

    def compatible_with(self, trained: Schema) -> list[str]:
        """Why a model trained on `trained` cannot read claims in this schema (empty when
        it can): every field it reads must still be here with the same type, an ordinal
        with the same order, a derived field with the same inputs."""
        problems = []
        read_now = {f.name for f in self.model_fields_read}
        for item in trained.model_fields_read:
            try:
                current = self.field(item.name)
            except KeyError:
                problems.append(f"{item.name!r} is no longer declared")
                continue
            if type(current) is not type(item) or current.type != item.type:
                problems.append(f"{item.name!r} was {item.type} and is now {current.type}")
            elif item.name not in read_now:
                problems.append(f"{item.name!r} is no longer a model input (model = false, or personal data)")
            elif isinstance(item, StoredField) and item.type is FieldType.ORDINAL and current.values != item.values:  # type: ignore[union-attr]
                problems.append(f"{item.name!r} changed the order of its values")
            elif isinstance(item, DerivedField) and (current.kind, current.inputs) != (item.kind, item.inputs):  # type: ignore[union-attr]
                problems.append(f"{item.name!r} is now derived differently")
        for column in trained.text:
            if column not in self.text:
                problems.append(f"the text column {column!r} is no longer read")
        return problems


def _check_derived(derived: DerivedField, stored: Mapping[str, StoredField]) -> None:
    arity = {DerivedKind.DAYS_BETWEEN: 2, DerivedKind.RATIO: 2, DerivedKind.HOUR_OF: 1}[derived.kind]
    if len(derived.inputs) != arity:
        raise ValueError(f"{derived.name}: {derived.kind} takes {arity} input(s), not {len(derived.inputs)}")
    types = {
        DerivedKind.DAYS_BETWEEN: (FieldType.DATE, FieldType.TIMESTAMP),
        DerivedKind.RATIO: NUMERIC_TYPES,
        DerivedKind.HOUR_OF: (FieldType.TIMESTAMP,),
    }[derived.kind]
    for column in derived.inputs:
        if column not in stored:
            raise ValueError(f"{derived.name}: input {column!r} is not a declared field")
        if stored[column].type not in types:
            raise ValueError(f"{derived.name}: input {column!r} must be of type {' or '.join(types)}")


def _repeated(names: list[str]) -> str:
    return ", ".join(sorted({n for n in names if names.count(n) > 1}))


def _number(value: float) -> str:
    return f"{value:g}"


def _blank(cell: Any) -> bool:
    if cell is None:
        return True
    if isinstance(cell, float) and cell != cell:  # NaN
        return True
    return str(cell) in ("NaT", "<NA>") or (isinstance(cell, str) and not cell.strip())


# --- reading one cell of each type ---------------------------------------------------------


def _text_of(cell: Any) -> str:
    text = str(cell.item() if hasattr(cell, "item") else cell).strip()
    if "\x00" in text:
        raise ValueError("contains a NUL character")
    return text


def _finite(text: str, what: str, wrong: str) -> float:
    """`text` as a finite float; `ValueError` saying `wrong` (what it must be) otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise ValueError(wrong) from None
    if not math.isfinite(value):
        raise ValueError(f"must be a finite {what}")
    return value


def _read_number(spec: StoredField, cell: Any) -> float:
    if isinstance(cell, bool):
        raise ValueError("must be a number")
    text = str(cell) if isinstance(cell, (int, float)) else _text_of(cell).replace(" ", "").replace("_", "")
    return _finite(text, "number", f"must be a number, not {text[:40]!r}")


def _read_integer(spec: StoredField, cell: Any) -> int:
    if isinstance(cell, int) and not isinstance(cell, bool):
        return cell
    text = _text_of(cell).replace(" ", "").replace("_", "") if not isinstance(cell, float) else ""
    if re.fullmatch(r"[-+]?\d+", text):  # exactly, past a float's 2**53
        return int(text)
    value = _read_number(spec, cell)
    if value != int(value):
        raise ValueError("must be a whole number")
    return int(value)


_CURRENCY = r"(?:[£$€¥₹]|[A-Z]{3})"


def _read_money(spec: StoredField, cell: Any) -> float:
    """`£1,234.56`, `1.234,56 €`, `(120.00)` (negative), `USD 99`: digits and the declared
    decimal separator; the other separator is thousands."""
    if isinstance(cell, (int, float)) and not isinstance(cell, bool):
        return _read_number(spec, cell)
    text = _text_of(cell)
    thousands = "," if spec.decimal == "." else "."
    wrong = f"must be an amount (e.g. 1{thousands}234{spec.decimal}56), not {text[:40]!r}"
    number = (
        rf"(?P<sign>[-+])?(?P<whole>\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+|\d+)"
        rf"(?:{re.escape(spec.decimal)}(?P<fraction>\d+))?"
    )
    found = re.fullmatch(rf"\(?\s*{_CURRENCY}?\s*{number}\s*{_CURRENCY}?\s*\)?", text.replace("\u00a0", " "))
    if found is None or text.startswith("(") != text.endswith(")"):
        raise ValueError(wrong)
    digits = found["whole"].replace(thousands, "") + (f".{found['fraction']}" if found["fraction"] else "")
    value = _finite(digits, "amount", wrong)
    return -value if text.startswith("(") or found["sign"] == "-" else value


def _read_boolean(spec: StoredField, cell: Any) -> bool:
    if isinstance(cell, bool):
        return cell
    text = _text_of(cell).lower().removesuffix(".0")
    if text in TRUE_VALUES:
        return True
    if text in FALSE_VALUES:
        return False
    raise ValueError(f"must be yes or no, not {text[:40]!r}")


def _read_category(spec: StoredField, cell: Any) -> str:
    text = _text_of(cell).lower()
    if len(text) > (spec.max_length or MAX_VALUE_CHARS):
        raise ValueError(f"is longer than {spec.max_length or MAX_VALUE_CHARS} characters")
    if spec.values and text not in spec.values:
        raise ValueError(f"must be one of {', '.join(spec.values)} (not {text[:40]!r})")
    return text


def _read_ordinal(spec: StoredField, cell: Any) -> str:
    text = _text_of(cell).lower()
    if text not in spec.values:
        raise ValueError(f"must be one of {', '.join(spec.values)} (not {text[:40]!r})")
    return text


def _read_hour(spec: StoredField, cell: Any) -> int:
    value = _read_integer(spec, cell)
    if not 0 <= value <= 23:
        raise ValueError("must be an hour from 0 to 23")
    return value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?")


def _read_moment(spec: StoredField, cell: Any) -> str:
    """A date (ISO `2026-03-31`) or a timestamp (ISO `2026-03-31T14:05:00`), from the
    declared format or a date object (Parquet's, Excel's)."""
    with_time = spec.type is FieldType.TIMESTAMP
    if hasattr(cell, "to_pydatetime"):  # a pandas Timestamp from a Parquet file
        cell = cell.to_pydatetime()
    if isinstance(cell, date):
        moment = cell if isinstance(cell, datetime) else datetime(cell.year, cell.month, cell.day)
        return moment.isoformat() if with_time else moment.date().isoformat()
    text = _text_of(cell)
    what, example = ("date and time", datetime(2026, 3, 31, 14, 5)) if with_time else ("date", datetime(2026, 3, 31))
    if spec.format == ISO:
        if not (_ISO_MOMENT if with_time else _ISO_DATE).fullmatch(text):
            shown = example.isoformat() if with_time else example.date().isoformat()
            raise ValueError(f"must be an ISO {what} (e.g. {shown})")
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as error:
            raise ValueError(f"is not a calendar {'moment' if with_time else 'day'} ({error})") from None
    else:
        try:
            parsed = datetime.strptime(text, spec.format)
        except ValueError:
            raise ValueError(
                f"must be a {what} written {_spelled(spec.format)} (e.g. {example.strftime(spec.format)}), "
                f"not {text[:40]!r}"
            ) from None
    return parsed.isoformat() if with_time else parsed.date().isoformat()


_SPELLED = {"%d": "DD", "%m": "MM", "%Y": "YYYY", "%y": "YY", "%H": "hh", "%M": "mm", "%S": "ss", "%b": "Mon"}


def _spelled(pattern: str) -> str:
    """A strptime format as people read it: `%d/%m/%Y` → DD/MM/YYYY."""
    for code, spelled in _SPELLED.items():
        pattern = pattern.replace(code, spelled)
    return pattern


def _read_text(spec: StoredField, cell: Any) -> str:
    text = _text_of(cell)
    limit = spec.max_length or MAX_TEXT_CHARS
    if len(text) > limit:
        raise ValueError(f"is longer than {limit:,} characters")
    return text


def _read_identifier(spec: StoredField, cell: Any) -> str:
    """Printable characters only, so no tab, line break, bidi override (U+202E shows
    `CLM-1` for a different string) or zero-width character."""
    text = _text_of(cell).removesuffix(".0") if isinstance(cell, float) else _text_of(cell)
    limit = spec.max_length or 32
    if len(text) > limit:
        raise ValueError(f"is longer than {limit} characters")
    for ch in text:
        if not ch.isprintable() or unicodedata.category(ch) == "Cf":
            raise ValueError(f"contains the unprintable or invisible character U+{ord(ch):04X}")
    return text


_READERS = {
    FieldType.NUMBER: _read_number,
    FieldType.INTEGER: _read_integer,
    FieldType.MONEY: _read_money,
    FieldType.BOOLEAN: _read_boolean,
    FieldType.CATEGORY: _read_category,
    FieldType.ORDINAL: _read_ordinal,
    FieldType.HOUR: _read_hour,
    FieldType.DATE: _read_moment,
    FieldType.TIMESTAMP: _read_moment,
    FieldType.TEXT: _read_text,
    FieldType.IDENTIFIER: _read_identifier,
}


# --- files ----------------------------------------------------------------------------------


def load(path: Path) -> Schema:
    """The schema in a TOML file, or `InvalidInput` saying what is wrong and where."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such schema file (CLAIMLENS_SCHEMA)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InvalidInput(f"{path}: not a TOML file ({error})") from None
    return from_mapping(data, where=str(path))


def from_mapping(data: Mapping[str, Any], *, where: str = "schema") -> Schema:
    try:
        return Schema.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in item['loc']) or 'schema'}: {item['msg'].removeprefix('Value error, ')}"
            for item in first[:5]
        )
        raise InvalidInput(f"{where}: {reasons}") from None


@lru_cache(maxsize=8)
def _cached(path: str, mtime: float) -> Schema:
    return load(Path(path))


def active_schema() -> Schema:
    """The schema named by `CLAIMLENS_SCHEMA` (the demo's when unset), re-read when the
    file changes."""
    from core.config import get_settings

    path = get_settings().schema_path or DEMO_SCHEMA
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise InvalidInput(f"{path}: no such schema file (CLAIMLENS_SCHEMA)") from None
    return _cached(str(path.resolve()), mtime)

"""Drafting a claim schema from an insurer's file (`claimlens schema infer`).

The person names the claim-number column and the report-date column (and, if the file
has them, the fraud label and the free-text columns); every other column's type is read
from its values: numbers, whole numbers, amounts written with currency or thousands
separators, yes/no, dates (ISO or day-first/month-first, whichever every value fits),
timestamps, hours, ordinal bins ("2 to 4", "more than 30", "none") put in order, and
categories with their vocabulary. Values such as `?`, `NA` or an empty cell are read as
missing; a column empty in every row is left out. Columns whose name or values look
like personal data (names, e-mail addresses, phone numbers, addresses, dates of birth)
are declared `pii`. The draft is TOML with a comment on every guess, for a person to
check and edit; `Schema` validates it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

import pandas as pd

from core import schema as schemas
from core.errors import InvalidInput
from core.schema import FieldType

SAMPLE_ROWS = 20_000  # rows read to draft a schema: enough to see every category of a real book
MAX_CATEGORIES = 50  # more distinct values than this: free text or an identifier, not a category
MAX_BINS = 20  # an ordinal has a few bins; more "a-b" values are references ("2019-00123")
MISSING_MARKERS = ("", "?", "na", "n/a", "nan", "null")  # "none" is often a value ("none", "1 to 2")
DATE_FORMATS = ("%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d", "%d/%m/%y", "%m/%d/%y")
TIMESTAMP_FORMATS = ("%d/%m/%Y %H:%M", "%m/%d/%Y %H:%M", "%d/%m/%Y %H:%M:%S")
_BIN = re.compile(r"^(less than|under|more than|over|above|below|up to)\s+[\d,.]+|^[\d,.]+\s*(to|-)\s*[\d,.]+")
_NUMBER_IN = re.compile(r"\d[\d,.]*")
_MONEY = re.compile(r"^\(?\s*([£$€¥]|[A-Z]{3})?\s*-?[\d.,\s]+\s*([£$€¥]|[A-Z]{3})?\s*\)?$")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
_PHONE = re.compile(r"^\+?\(?\d[\d\s().-]{8,}\d$")
# Words in a column's name that mark personal data (whole words: "AddressChange" is a bin of months).
PII_WORDS = {"name", "surname", "firstname", "email", "mail", "phone", "mobile", "telephone", "contact", "address",
             "street", "postcode", "birth", "dob", "ssn", "passport", "iban"}  # fmt: skip
SEGMENT_WORDS = ("line", "business", "product", "region", "area", "state", "category", "base", "channel", "type")
_TRUE_FALSE = {"y", "n", "yes", "no", "true", "false", "t", "f", "0", "1"}


@dataclass
class Guess:
    """What a column looks like, and the comment that says why."""

    name: str
    type: FieldType
    notes: list[str] = field(default_factory=list)
    values: tuple[str, ...] = ()
    format: str = schemas.ISO
    decimal: Literal[".", ","] = "."
    currency: str = ""
    missing: tuple[str, ...] = ()
    required: bool = False
    pii: bool = False


def read_sample(path: Path, rows: int = SAMPLE_ROWS) -> pd.DataFrame:
    """The first `rows` rows of a CSV or Parquet file, every cell as text (the types are
    what the draft infers)."""
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            frame = pd.read_parquet(path).head(rows).astype(object)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=rows, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as error:
        raise InvalidInput(f"{path}: cannot be read as a claims file ({type(error).__name__}: {error})") from None
    if frame.empty:
        raise InvalidInput(f"{path}: the file has no rows to draft a schema from")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def draft(
    frame: pd.DataFrame,
    *,
    claim_number: str,
    reported: str,
    label: str | None = None,
    text: Iterable[str] = (),
    name: str = "my claims",
) -> str:
    """A commented TOML schema for the claims in `frame` (see the module docstring)."""
    columns = {str(c).lower(): str(c) for c in frame.columns}
    text = [t.lower() for t in text]
    for role, column in (
        ("--id", claim_number),
        ("--date", reported),
        ("--label", label),
        *(("--text", t) for t in text),
    ):
        if column is not None and column.lower() not in columns:
            known = ", ".join(frame.columns)
            raise InvalidInput(f"{role} {column!r} is not a column of the file (columns: {known})")
    guesses: list[Guess] = []
    skipped: list[str] = []
    for lower, original in columns.items():
        if label is not None and lower == label.lower():
            continue
        cells = frame[original].map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v).strip())
        guess = _guess(original, cells, identifier=lower == claim_number.lower(), text=lower in text)
        if guess is None:
            skipped.append(original)
            continue
        if lower == reported.lower():
            guess.required = True
            if guess.type not in (FieldType.DATE, FieldType.TIMESTAMP):
                raise InvalidInput(f"--date {reported!r} does not hold dates (its values look like {guess.type})")
        guesses.append(guess)
    return _toml(name, guesses, skipped, claim_number, reported, label, frame, text)


def _guess(name: str, cells: pd.Series, *, identifier: bool, text: bool) -> Guess | None:
    lowered = cells.str.lower()
    present = cells[~lowered.isin(MISSING_MARKERS)]
    missing = tuple(sorted(set(lowered[lowered.isin(MISSING_MARKERS)]) - {""}))
    if present.empty:
        return None
    values = set(present.str.lower())
    if identifier:
        return Guess(name, FieldType.IDENTIFIER, ["the claim number"], required=True, missing=missing)
    if text:
        return Guess(name, FieldType.TEXT, ["free text the model reads"], missing=missing)
    guess = (
        _boolean(name, values)
        or _coded(name, present)
        or _number(name, present)
        or _money(name, present)
        or _moment(name, present)
        or _ordinal(name, values)
        or _category(name, values, present)
    )
    guess.missing = missing
    guess.required = guess.required or (not missing and (cells != "").all())
    free_text = guess.type in (FieldType.TEXT, FieldType.IDENTIFIER)
    guess.pii = bool(_words(name) & PII_WORDS) or (free_text and _looks_personal(present))
    if guess.pii and free_text:
        guess.type = FieldType.TEXT  # names and addresses run longer than a reference
        guess.notes.append("looks like personal data: masked for roles without claims.view_pii, never a model input")
    return guess


def _boolean(name: str, values: set[str]) -> Guess | None:
    if values <= _TRUE_FALSE and len(values) == 2 and not values <= {"0", "1"} | set():
        return Guess(name, FieldType.BOOLEAN, [f"yes/no ({', '.join(sorted(values))})"])
    if values == {"0", "1"}:
        return Guess(name, FieldType.BOOLEAN, ["0/1"])
    return None


def _coded(name: str, present: pd.Series) -> Guess | None:
    """Digits with leading zeros ("02134", "000123"): a code, not a number."""
    if present.str.fullmatch(r"0\d+").any() and present.str.fullmatch(r"\d+").all():
        return Guess(name, FieldType.IDENTIFIER, ["digits with leading zeros: a code, kept as written"])
    return None


def _number(name: str, present: pd.Series) -> Guess | None:
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.isna().any():
        return None
    if (numbers == numbers.round()).all():
        if "hour" in name.lower() and numbers.between(0, 23).all():
            return Guess(name, FieldType.HOUR, ["an hour of the day"])
        distinct = numbers.nunique()
        note = f"whole numbers from {numbers.min():g} to {numbers.max():g}"
        if distinct <= 12 and numbers.max() > 100:
            note += ' (few distinct values: a category written as numbers? then type = "category")'
        return Guess(name, FieldType.INTEGER, [note])
    return Guess(name, FieldType.NUMBER, [f"numbers from {numbers.min():g} to {numbers.max():g}"])


def _money(name: str, present: pd.Series) -> Guess | None:
    if not present.map(lambda v: bool(_MONEY.match(v)) and any(ch.isdigit() for ch in v)).all():
        return None
    symbols = "".join(sorted({ch for v in present for ch in v if ch in "£$€¥"}))
    comma_decimal = present.str.contains(r",\d{1,2}\s*\D*$", regex=True).mean() > 0.5
    decimal: Literal[".", ","] = "," if comma_decimal else "."
    spec = schemas.StoredField(name="x", type=FieldType.MONEY, decimal=decimal)
    try:
        present.map(spec.parse)
    except ValueError:
        return None
    return Guess(name, FieldType.MONEY, [f"amounts ({'decimal comma' if comma_decimal else 'decimal point'})"],
                 decimal=decimal, currency=symbols[:1])  # fmt: skip


def _moment(name: str, present: pd.Series) -> Guess | None:
    iso = schemas.StoredField(name="x", type=FieldType.DATE)
    if _all_parse(present, iso):
        return Guess(name, FieldType.DATE, ["ISO dates"])
    if _all_parse(present, schemas.StoredField(name="x", type=FieldType.TIMESTAMP)):
        return Guess(name, FieldType.TIMESTAMP, ["ISO dates and times"])
    for kind, formats in ((FieldType.DATE, DATE_FORMATS), (FieldType.TIMESTAMP, TIMESTAMP_FORMATS)):
        fitting = [f for f in formats if all(_fits(v, f) for v in present)]
        if fitting:
            notes = [f"dates written {fitting[0]}"]
            if len(fitting) > 1:
                notes.append(f"every value also fits {fitting[1]}: check which the file means")
            return Guess(name, kind, notes, format=fitting[0])
    return None


def _all_parse(present: pd.Series, spec: schemas.StoredField) -> bool:
    try:
        present.map(spec.parse)
    except ValueError:
        return False
    return True


def _fits(value: str, pattern: str) -> bool:
    try:
        datetime.strptime(value, pattern)
    except ValueError:
        return False
    return True


def _ordinal(name: str, values: set[str]) -> Guess | None:
    """Bins such as "1 to 7", "more than 30", "none", "new": put in the order of their numbers."""
    binned = [v for v in values if _BIN.match(v)]
    if len(binned) < 2 or len(binned) < len(values) - 2 or len(values) > MAX_BINS:
        return None

    def rank(value: str) -> tuple[float, float]:
        found = _NUMBER_IN.findall(value)
        if not found:  # "none", "new": before every bin
            return (-1.0, 0.0)
        first = float(found[0].replace(",", ""))
        if value.startswith(("less than", "under", "below", "up to")):
            return (first, -1.0)
        if value.startswith(("more than", "over", "above")):
            return (first, 1.0)
        return (first, 0.0)

    order = tuple(sorted(values, key=rank))
    return Guess(name, FieldType.ORDINAL, ["ordered bins: check the order"], values=order)


def _category(name: str, values: set[str], present: pd.Series) -> Guess:
    if len(values) <= MAX_CATEGORIES:
        return Guess(name, FieldType.CATEGORY, [f"{len(values)} values"], values=tuple(sorted(values)))
    if present.str.len().mean() > 40:
        return Guess(name, FieldType.TEXT, ["long text: add it to `text` for the model to read it"])
    return Guess(name, FieldType.IDENTIFIER, [f"{len(values):,} distinct values: a reference, not a model input"])


def _words(name: str) -> set[str]:
    """A column name's words: `ClaimantEmail`, `claimant_email` and `Claimant Email` alike."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name)
    return {word for word in re.split(r"[\s_\-.]+", spaced.lower()) if word}


def _looks_personal(present: pd.Series) -> bool:
    sample = present.head(200)
    return bool(sample.map(lambda v: bool(_EMAIL.search(v) or _PHONE.match(v))).mean() > 0.5)


def _role(guesses: list[Guess], kinds: tuple[FieldType, ...], *words: str) -> str | None:
    for guess in guesses:
        if guess.type in kinds and any(word in guess.name.lower() for word in words):
            return guess.name
    return None


def _toml(
    name: str,
    guesses: list[Guess],
    skipped: list[str],
    claim_number: str,
    reported: str,
    label: str | None,
    frame: pd.DataFrame,
    text: list[str],
) -> str:
    dates = (FieldType.DATE, FieldType.TIMESTAMP)
    amounts = (FieldType.MONEY, FieldType.NUMBER, FieldType.INTEGER)
    incident = _role([g for g in guesses if g.name.lower() != reported.lower()], dates, "incident", "loss", "accident")
    start = _role(guesses, dates, "bind", "start", "inception", "effective")
    amount = (
        _role(guesses, (FieldType.MONEY,), "claim", "amount", "incurred", "paid", "value", "loss")
        or _role(guesses, (FieldType.MONEY,), "")
        or _role(guesses, amounts[1:], "amount", "incurred", "claim_value")
    )
    policy = _role(guesses, (FieldType.IDENTIFIER, FieldType.INTEGER, FieldType.CATEGORY), "policy_number", "policy_no")
    if policy is not None:
        for guess in guesses:
            if guess.name == policy:
                guess.type, guess.values, guess.notes = FieldType.IDENTIFIER, (), ["the policy number"]
    groups = [g for g in guesses if g.type is FieldType.CATEGORY and 2 <= len(g.values) <= 20]
    hinted = [g for g in groups if _words(g.name) & set(SEGMENT_WORDS)]
    segments = [g.name for g in sorted(hinted or groups, key=lambda g: len(g.values))][:3]
    pii = [g.name for g in guesses if g.pii and g.name not in (claim_number, reported)]
    out = [
        f"# Drafted by `claimlens schema infer` from {len(frame):,} rows on {datetime.now():%Y-%m-%d}.",
        "# Every guess has a comment: check them, then `claimlens schema check FILE --schema THIS`.",
        '# README "Your own claims" explains every key.',
        f"name = {_q(name)}",
        "",
        f"text = {_list(text and [g.name for g in guesses if g.name.lower() in text])}",
        f"segments = {_list(segments)}  # queue filters and drift segments: keep those people group claims by",
        f"pii = {_list(pii)}",
        "",
        "[roles]",
        f"claim_number = {_q(_original(guesses, claim_number))}",
        f"reported = {_q(_original(guesses, reported))}  # orders time splits, drift windows and the SLA",
    ]
    for key, value, note in (
        ("policy_number", policy, "the policy number"),
        ("incident", incident, "the day of the loss"),
        ("policy_start", start, "the day the policy started"),
        ("amount", amount, "the amount claimed: triage weighs it"),
    ):
        out.append(f"{key} = {_q(value)}  # {note}" if value else f'# {key} = "..."  # {note}: none found')
    if label is not None:
        values = sorted({str(v).strip().lower() for v in frame[_column(frame, label)] if str(v).strip()})
        fraud = [v for v in values if v in ("1", "y", "yes", "true", "t", "fraud")]
        out += ["", "[label]", f"column = {_q(_column(frame, label))}", f"fraud = {_list(fraud)}  # of {_list(values)}"]
    for guess in guesses:
        out += [
            "",
            "[[fields]]",
            f"name = {_q(guess.name)}",
            f"type = {_q(guess.type.value)}  # {'; '.join(guess.notes)}",
        ]
        if guess.required:
            out.append("required = true")
        if guess.values:
            out.append(f"values = {_list(guess.values)}")
        if guess.format != schemas.ISO:
            out.append(f"format = {_q(guess.format)}")
        if guess.type is FieldType.MONEY:
            out.append(f"decimal = {_q(guess.decimal)}")
            if guess.currency:
                out.append(f"currency = {_q(guess.currency)}")
            out.append('scale = "log"  # amounts span decades')
        if guess.missing:
            out.append(f"missing = {_list(['', *guess.missing])}")
    derived = [(n, s, e) for n, s, e in (("days_to_report", incident, reported), ("policy_age", start, incident))
               if s and e]  # fmt: skip
    for derived_name, first, second in derived:
        out += ["", "[[derived]]", f"name = {_q(derived_name)}", f"label = {_q(schemas.tidy(derived_name))}",
                'kind = "days_between"',
                f"inputs = [{_q(_original(guesses, first))}, {_q(_original(guesses, second))}]", 'scale = "log"',
                "floor = 0"]  # fmt: skip
    if skipped:
        out += ["", f"# Left out, empty in every row: {', '.join(skipped)}"]
    return "\n".join(out) + "\n"


def _original(guesses: list[Guess], name: str) -> str:
    return next((g.name for g in guesses if g.name.lower() == name.lower()), name)


def _column(frame: pd.DataFrame, name: str) -> str:
    return next(str(c) for c in frame.columns if str(c).lower() == name.lower())


def _q(value: str | None) -> str:
    return json.dumps(value, ensure_ascii=False)  # a TOML basic string is a JSON string


def _list(values: Iterable[str] | None) -> str:
    return "[" + ", ".join(_q(v) for v in (values or [])) + "]"

"""Where a claim's fields are kept: the one place that knows how the schema's fields
(`core.schema`) map onto the `claims` table, so every query selects a field by its
schema name and every frame of claims has one column per field.

The schema's claim number, policy number, report and incident days and amount are
columns of their own (`ROLE_COLUMNS`: indexed, and read by every part); every other field
is a key of the claim's `fields` JSON, extracted in SQL as its type (`column`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import BigInteger, ColumnElement, cast

from core.schema import FieldType, Schema, active_schema
from db.models import Claim

TEXT_SEPARATOR = "\n\n"
# Schema role -> the claims column that holds it.
ROLE_COLUMNS = {
    "claim_number": "claim_number",
    "policy_number": "policy_number",
    "reported": "report_date",
    "incident": "incident_date",
    "amount": "amount",
}
# The claims table's own columns, selectable by their own names whatever the schema calls them
# (every frame of claims has `report_date`, the day that orders time splits and windows).
OWN_COLUMNS = ("id", *ROLE_COLUMNS.values())
_AS_FLOAT = (FieldType.NUMBER, FieldType.MONEY)
_AS_INTEGER = (FieldType.INTEGER, FieldType.HOUR)


def role_columns(schema: Schema | None = None) -> dict[str, str]:
    """Schema field name -> the claims column of its own that holds it."""
    roles = (schema or active_schema()).roles
    own: dict[str, str] = {}
    for role, column_name in ROLE_COLUMNS.items():  # a field in two roles reads from the first
        own.setdefault(getattr(roles, role) or "", column_name)
    own.pop("", None)
    return own


def column(name: str, schema: Schema | None = None) -> ColumnElement[Any]:
    """The SQL expression of a claim field, labelled with its name: a role's own column, a
    key of `fields` extracted as its type, or (for a name the schema does not declare)
    one of the table's `OWN_COLUMNS`. KeyError for any other name."""
    schema = schema or active_schema()
    own = role_columns(schema).get(name)
    if own is None and name in OWN_COLUMNS and name not in {f.name for f in schema.fields}:
        own = name
    if own is not None:
        own_column: ColumnElement[Any] = getattr(Claim, own)
        return own_column.label(name)
    kind = schema.field(name).type
    value = Claim.fields[name]
    if kind in _AS_FLOAT:
        return value.as_float().label(name)
    if kind in _AS_INTEGER:  # BIGINT: PostgreSQL's as_integer() is 32-bit
        return cast(value.as_string(), BigInteger).label(name)
    if kind is FieldType.BOOLEAN:
        return value.as_boolean().label(name)
    return value.as_string().label(name)


def columns(names: Iterable[str], schema: Schema | None = None) -> list[ColumnElement[Any]]:
    schema = schema or active_schema()
    return [column(name, schema) for name in names]


def values(claim: Claim, names: Iterable[str], schema: Schema | None = None) -> dict[str, Any]:
    """A stored claim's fields by name (None for a field it has no value for)."""
    own = role_columns(schema)
    stored = claim.fields or {}
    return {name: getattr(claim, own[name]) if name in own else stored.get(name) for name in names}


def row_values(parsed: Mapping[str, Any], schema: Schema | None = None) -> dict[str, Any]:
    """The claims row for a claim's parsed fields (`Schema.parse`): its own columns, and
    the rest in `fields` (the role fields are not kept twice)."""
    roles = (schema or active_schema()).roles
    own = role_columns(schema)
    row: dict[str, Any] = {column: None for column in ROLE_COLUMNS.values()}
    for role, column_name in ROLE_COLUMNS.items():
        value = parsed.get(getattr(roles, role) or "")
        if column_name.endswith("_date") and value:
            value = date.fromisoformat(value[:10])
        row[column_name] = str(value) if column_name.endswith("_number") and value is not None else value
    row["fields"] = {name: value for name, value in parsed.items() if name not in own and value is not None}
    return row


def personal(schema: Schema | None = None) -> tuple[str, ...]:
    """The fields that are the claimant's own personal data (masked whole, and taken out of
    free text wherever they appear)."""
    return (schema or active_schema()).pii


def text_columns(schema: Schema | None = None) -> tuple[str, ...]:
    """The free-text fields the encoder reads, in order."""
    return (schema or active_schema()).text


def texts(frame: pd.DataFrame, schema: Schema | None = None) -> pd.Series:
    """Each claim's text as the encoder reads it: its text fields joined, blanks left out."""
    names = [name for name in text_columns(schema) if name in frame.columns]
    if not names:
        return pd.Series([""] * len(frame), index=frame.index, dtype=object)
    if len(names) == 1:  # the usual case, and the fast one
        return frame[names[0]].fillna("").astype(str)
    parts = frame[names].fillna("").astype(str)
    return parts.apply(lambda row: TEXT_SEPARATOR.join(v for v in row if v.strip()), axis=1).astype(object)


def text_of(record: Mapping[str, Any] | Claim, schema: Schema | None = None) -> str:
    """One claim's text: a stored claim's, or a mapping of its fields'."""
    names = text_columns(schema)
    found = values(record, names, schema) if isinstance(record, Claim) else {n: record.get(n) for n in names}
    return TEXT_SEPARATOR.join(str(v) for v in found.values() if v is not None and str(v).strip())

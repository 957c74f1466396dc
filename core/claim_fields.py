"""The claim's fields as people read them, from the active schema (`core.schema`): for
each, its label, the section it belongs to and how its value is written. Pages lay out
`sections(fields)`; none of them names a claim field.

Derived fields (days between two dates, a ratio of two amounts, the hour of a timestamp)
are what an adjuster would otherwise work out in their head; the claim model, drift and
the review page all compute them here (`derive`, `with_derived`), written once over a
frame of claims and serving one claim as a frame of one row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import pandas as pd

from core.schema import DerivedField, DerivedKind, FieldType, Schema, StoredField, active_schema

Kind = Literal["text", "category", "date", "moment", "money", "number", "count", "yesno", "hour", "days", "share"]
_KINDS: dict[FieldType, Kind] = {
    FieldType.NUMBER: "number", FieldType.INTEGER: "count", FieldType.MONEY: "money", FieldType.BOOLEAN: "yesno",
    FieldType.CATEGORY: "category", FieldType.ORDINAL: "category", FieldType.HOUR: "hour", FieldType.DATE: "date",
    FieldType.TIMESTAMP: "moment", FieldType.TEXT: "text", FieldType.IDENTIFIER: "text",
}  # fmt: skip
_DERIVED_KINDS: dict[DerivedKind, Kind] = {
    DerivedKind.DAYS_BETWEEN: "days", DerivedKind.RATIO: "share", DerivedKind.HOUR_OF: "hour",
}  # fmt: skip


def kind_of(item: StoredField | DerivedField) -> Kind:
    return _DERIVED_KINDS[item.kind] if isinstance(item, DerivedField) else _KINDS[item.type]


def derive(claims: pd.DataFrame, item: DerivedField) -> pd.Series:
    """A derived field over a frame of claims: NaN where an input is missing (or, for a
    ratio, where the denominator is not positive)."""
    if item.kind is DerivedKind.DAYS_BETWEEN:
        start, end = (_days(claims[name]) for name in item.inputs)
        return (end - start).dt.days.astype(float)
    if item.kind is DerivedKind.RATIO:
        part, whole = (pd.to_numeric(claims[name], errors="coerce").astype(float) for name in item.inputs)
        return part / whole.where(whole > 0)
    # The hour as written (local to the claim): an ISO timestamp's characters 11-12, whatever its offset.
    return pd.to_numeric(_iso_text(claims[item.inputs[0]]).str.slice(11, 13), errors="coerce").astype(float)


def _iso_text(values: pd.Series) -> pd.Series:
    """Dates, timestamps and their ISO strings alike as ISO text ("2026-03-01T22:30:00")."""
    return values.map(lambda v: v.isoformat() if hasattr(v, "isoformat") else ("" if v is None else str(v)))


def _days(values: pd.Series) -> pd.Series:
    """The calendar day of each value (a date, a timestamp with or without an offset, or
    their ISO text); NaT where there is none (a masked or missing value)."""
    return pd.to_datetime(_iso_text(values).str.slice(0, 10), format="%Y-%m-%d", errors="coerce")


def with_derived(claims: pd.DataFrame, schema: Schema | None = None) -> pd.DataFrame:
    """`claims` with a column per derived field (NaN where an input is missing or zero)."""
    frame = claims.copy()
    for item in (schema or active_schema()).derived:
        frame[item.name] = derive(frame, item) if set(item.inputs) <= set(frame.columns) else float("nan")
    return frame


def value_of(item: StoredField | DerivedField, fields: Mapping[str, Any]) -> Any:
    """A field's value from a claim's fields (KeyError when a field it needs is absent;
    None when an input is masked, missing or zero)."""
    if isinstance(item, StoredField):
        return fields[item.name]
    row = pd.DataFrame([{name: fields[name] for name in item.inputs}])
    try:
        derived = derive(row, item).iloc[0]
    except (TypeError, ValueError, pd.errors.ParserError):  # a masked input ("•••")
        return None
    return None if pd.isna(derived) else derived.item() if hasattr(derived, "item") else derived


def labels(schema: Schema | None = None) -> dict[str, str]:
    """Field name → the label people read."""
    return (schema or active_schema()).labels


def label(name: str, schema: Schema | None = None) -> str:
    """A field's label; the name, tidied, for a field the schema no longer declares."""
    return labels(schema).get(name) or name.replace("_", " ").capitalize()


def money(value: float, currency: str = "$") -> str:
    """An amount as people write it: currency, thousands separators, cents only when there are any."""
    return f"{currency}{value:,.2f}" if round(value, 2) % 1 else f"{currency}{value:,.0f}"


def currency(schema: Schema | None = None) -> str:
    """The symbol amounts are shown with (the amount field's `currency`)."""
    schema = schema or active_schema()
    amount = schema.roles.amount
    return getattr(schema.field(amount), "currency", "") if amount else ""


def format_value(kind: Kind, value: Any, currency: str = "$") -> str:
    """A field's value for display; text (including a masked value) is shown as stored."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if kind == "date" and isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if kind == "moment" and isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, str):
        return value.replace("_", " ") if kind == "category" else value
    if kind == "money":
        return money(float(value), currency)
    if kind == "date" and isinstance(value, date):
        return f"{value.day} {value:%b %Y}"
    if kind == "moment" and isinstance(value, datetime):
        return f"{value.day} {value:%b %Y %H:%M}"
    if kind == "hour":
        return f"{int(value):02d}:00–{int(value):02d}:59"
    if kind == "days":
        return f"{int(value):,} day" + ("" if int(value) == 1 else "s")
    if kind == "share":
        return f"{float(value):.0%}"
    if kind == "count":
        return f"{int(value):,}"
    if kind == "yesno":
        return "yes" if value else "no"
    if kind == "number":
        return f"{float(value):,.4g}"
    return str(value)


def describe(name: str, fields: Mapping[str, Any], schema: Schema | None = None) -> str:
    """A field and its value in words, for an explanation's reason ("Days to report: 3 days")."""
    schema = schema or active_schema()
    try:
        item = schema.field(name)
        value = value_of(item, fields)
    except KeyError:
        return f"{label(name, schema)}: {fields.get(name, '—')}"
    return f"{item.display}: {format_value(kind_of(item), value, currency(schema))}"


@dataclass(frozen=True)
class Section:
    title: str
    rows: tuple[tuple[str, str], ...]  # (label, formatted value)


def sections(fields: Mapping[str, Any], schema: Schema | None = None) -> list[Section]:
    """The claim's fields grouped into sections (in the order the schema first names
    them), labelled and formatted; the text the encoder reads is shown apart, and rows
    that need a field absent from `fields` are left out."""
    schema = schema or active_schema()
    grouped: dict[str, list[tuple[str, str]]] = {}
    symbol = currency(schema)
    for item in schema.all_fields:
        if item.name in schema.text:
            continue
        rows = grouped.setdefault(item.section, [])
        try:
            value = value_of(item, fields)
        except KeyError:
            continue
        rows.append((item.display, format_value(kind_of(item), value, getattr(item, "currency", "") or symbol)))
    return [Section(title, tuple(rows)) for title, rows in grouped.items() if rows]


def stored_names(schema: Schema | None = None) -> tuple[str, ...]:
    """Every stored column of the schema."""
    return tuple(item.name for item in (schema or active_schema()).fields)


def text_label(schema: Schema | None = None) -> str:
    """What explanations call the text the encoder reads ("narrative", "adjuster notes")."""
    schema = schema or active_schema()
    return label(schema.text[0], schema).lower() if len(schema.text) == 1 else "claim text"


def money_table_format(schema: Schema | None = None) -> str:
    """The amount's currency as a `st.column_config.NumberColumn` format (a printf format
    with the symbol for currencies Streamlit has no preset for)."""
    symbol = currency(schema)
    return {"$": "dollar", "€": "euro", "¥": "yen", "": "localized"}.get(symbol, f"{symbol}%.2f")

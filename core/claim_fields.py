"""The claim's stored fields as people read them: for each, a label, the section it
belongs to (claimant, policy, incident, amounts) and how its value is written. Pages
lay out `sections(fields)`; none of them names a claim field.

A few fields are derived from the stored ones (policy age at the incident, days to
report, the claimed share of the insured value): what an adjuster would otherwise
compute in their head, what the claim model's fields measure (`core.modeling.features`
uses the same names) and what drift monitors (`with_derived`). Each derivation is
written once, over a frame of claims, and serves one claim as a frame of one row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import pandas as pd

CURRENCY = "$"
MONEY_TABLE_FORMAT = "dollar"  # the same currency in st.column_config's number formats
Kind = Literal["text", "category", "date", "money", "count", "hour", "days", "share"]
SECTIONS = ("Claimant", "Policy", "Incident", "Amounts")


@dataclass(frozen=True)
class ClaimField:
    """One row of a claim's sections: a stored column, or a value derived from several."""

    name: str
    label: str
    section: str
    kind: Kind
    derive: Callable[[pd.DataFrame], pd.Series] | None = None  # None: the stored column `name`

    def value(self, fields: Mapping[str, Any]) -> Any:
        """The value from a claim's fields (KeyError when a field it needs is absent; None
        when an input is masked, missing or zero)."""
        if self.derive is None:
            return fields[self.name]
        try:
            derived = self.derive(pd.DataFrame([dict(fields)])).iloc[0]
        except (TypeError, ValueError, pd.errors.ParserError):  # a masked input ("•••")
            return None
        return None if pd.isna(derived) else derived.item() if hasattr(derived, "item") else derived


def _days_between(start: str, end: str) -> Callable[[pd.DataFrame], pd.Series]:
    return lambda f: (pd.to_datetime(f[end]) - pd.to_datetime(f[start])).dt.days


def _share(part: str, whole: str) -> Callable[[pd.DataFrame], pd.Series]:
    """`part / whole`; NaN where the whole is zero."""
    return lambda f: f[part].astype(float) / f[whole].astype(float).where(f[whole].astype(float) > 0)


FIELDS: tuple[ClaimField, ...] = (
    ClaimField("claimant_name", "Name", "Claimant", "text"),
    ClaimField("claimant_contact", "Contact", "Claimant", "text"),
    ClaimField("prior_claims", "Prior claims", "Claimant", "count"),
    ClaimField("policy_number", "Policy number", "Policy", "text"),
    ClaimField("line_of_business", "Line of business", "Policy", "category"),
    ClaimField("policy_start_date", "Policy start", "Policy", "date"),
    ClaimField("policy_age", "Policy age at incident", "Policy", "days",
               _days_between("policy_start_date", "incident_date")),
    ClaimField("claim_number", "Claim number", "Incident", "text"),
    ClaimField("incident_date", "Incident date", "Incident", "date"),
    ClaimField("incident_hour", "Time of incident", "Incident", "hour"),
    ClaimField("report_date", "Reported", "Incident", "date"),
    ClaimField("report_delay", "Days to report", "Incident", "days", _days_between("incident_date", "report_date")),
    ClaimField("channel", "Reported via", "Incident", "category"),
    ClaimField("region", "Region", "Incident", "category"),
    ClaimField("police_report", "Police report", "Incident", "category"),
    ClaimField("witnesses", "Witnesses", "Incident", "count"),
    ClaimField("claimed_amount", "Claimed", "Amounts", "money"),
    ClaimField("insured_value", "Insured value", "Amounts", "money"),
    ClaimField("amount_vs_insured", "Claimed share of insured value", "Amounts", "share",
               _share("claimed_amount", "insured_value")),
)  # fmt: skip
# The fields read for what they mean rather than as model inputs: the amount a claim asks
# for (triage weighs it) and the day it was reported (the wait, the SLA, drift windows).
AMOUNT = "claimed_amount"
REPORTED = "report_date"
STORED = tuple(f.name for f in FIELDS if f.derive is None)
DERIVED = tuple(f for f in FIELDS if f.derive is not None)
LABELS = {f.name: f.label for f in FIELDS}


def with_derived(claims: pd.DataFrame) -> pd.DataFrame:
    """`claims` with a column per derived field (NaN where an input is missing or zero)."""
    frame = claims.copy()
    for spec in DERIVED:
        assert spec.derive is not None
        frame[spec.name] = spec.derive(frame).astype(float)
    return frame


def money(value: float) -> str:
    """An amount as people write it: currency, thousands separators, cents only when there are any."""
    return f"{CURRENCY}{value:,.2f}" if round(value, 2) % 1 else f"{CURRENCY}{value:,.0f}"


def format_value(kind: Kind, value: Any) -> str:
    """A field's value for display; text (including a masked value) is shown as stored."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value.replace("_", " ") if kind == "category" else value
    if kind == "money":
        return money(float(value))
    if kind == "date" and isinstance(value, date):
        return f"{value.day} {value:%b %Y}"
    if kind == "hour":
        return f"{int(value):02d}:00–{int(value):02d}:59"
    if kind == "days":
        return f"{int(value):,} day" + ("" if int(value) == 1 else "s")
    if kind == "share":
        return f"{float(value):.0%}"
    if kind == "count":
        return f"{int(value):,}"
    return str(value)


@dataclass(frozen=True)
class Section:
    title: str
    rows: tuple[tuple[str, str], ...]  # (label, formatted value)


def sections(fields: Mapping[str, Any]) -> list[Section]:
    """The claim's fields grouped into sections, labelled and formatted, in reading order.
    Rows that need a field absent from `fields` are left out."""
    grouped: dict[str, list[tuple[str, str]]] = {title: [] for title in SECTIONS}
    for spec in FIELDS:
        try:
            value = spec.value(fields)
        except KeyError:
            continue
        grouped[spec.section].append((spec.label, format_value(spec.kind, value)))
    return [Section(title, tuple(rows)) for title, rows in grouped.items() if rows]

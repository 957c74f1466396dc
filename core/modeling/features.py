"""How a claim's structured fields enter the claim-risk model.

Each *field* the schema lets the model read ("claimed share of insured value", "police
report", ...) becomes one or more columns of a standardised vector: a number (counts,
amounts, ratios, days between dates, booleans as 0/1, ordinal bins as their rank) one
column, an hour of the day three (a point on the clock's circle and "at night"), a
category one per value seen in training plus one for the rest. The spec is fitted on the
training claims and saved with the model, with the list of fields and how each was
encoded, so scoring encodes exactly as training did whatever schema is active later.
Fields are kept as groups of columns so explanations can switch a whole field to its
training-average value and attribute the score to it.

A missing value reads as the training mean (0 after scaling) or, for a category, as the
value `MISSING`; an unseen category as `OTHER`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from core import claim_fields
from core.schema import DerivedField, FieldType, Schema, StoredField, active_schema

OTHER = "__other__"
MISSING = "__missing__"
Encoding = Literal["number", "hour", "category"]
_CATEGORY_TYPES = (FieldType.CATEGORY,)

# Fields of models saved before the spec listed them: the demo's, in the order they were encoded.
_LEGACY_FIELDS: list[tuple[str, Encoding]] = [
    *((name, "number") for name in ("amount_vs_insured", "claimed_amount", "insured_value", "policy_age",
                                    "report_delay", "prior_claims", "witnesses")),
    ("incident_hour", "hour"),
    *((name, "category") for name in ("police_report", "line_of_business", "region", "channel")),
]  # fmt: skip


def encoding_of(item: StoredField | DerivedField) -> Encoding:
    if item.type is FieldType.HOUR:
        return "hour"
    return "category" if item.type in _CATEGORY_TYPES else "number"


def _encoding_order(items: tuple[StoredField | DerivedField, ...]) -> list[StoredField | DerivedField]:
    """The fields in the order they are encoded: those models saved before schemas encoded
    (`_LEGACY_FIELDS`) in that order, so the demo's models train as they always have, then
    the rest in the schema's order."""
    legacy = [name for name, _ in _LEGACY_FIELDS]
    return sorted(items, key=lambda item: legacy.index(item.name) if item.name in legacy else len(legacy))


def raw_number(claims: pd.DataFrame, item: StoredField | DerivedField) -> pd.Series:
    """One numeric field before standardisation: held inside its floor and ceiling, then
    on a log scale where it says so; NaN where missing."""
    if isinstance(item, DerivedField):
        values = claim_fields.derive(claims, item).astype(float)
    elif item.type is FieldType.BOOLEAN:
        values = claims[item.name].map(lambda v: np.nan if v is None or pd.isna(v) else float(bool(v)))
    elif item.type is FieldType.ORDINAL:
        rank = {value: float(i) for i, value in enumerate(item.values)}
        values = claims[item.name].map(lambda v: rank.get(str(v).lower(), np.nan) if isinstance(v, str) else np.nan)
    else:
        values = pd.to_numeric(claims[item.name], errors="coerce").astype(float)
    values = values.clip(lower=item.floor, upper=item.ceiling)
    if item.scale == "log":
        values = np.log1p(values.clip(lower=0))
    return values.astype(float)


@dataclass
class FieldSpec:
    """Fitted encoding: the fields and how each is encoded, means/stds for numbers,
    vocabularies and frequencies for categories."""

    means: dict[str, float] = field(default_factory=dict)
    stds: dict[str, float] = field(default_factory=dict)
    vocab: dict[str, list[str]] = field(default_factory=dict)
    frequencies: dict[str, list[float]] = field(default_factory=dict)
    fields: list[tuple[str, Encoding]] = field(default_factory=lambda: list(_LEGACY_FIELDS))
    # The schema's declarations of the fields (how each number is read), so a spec encodes
    # on its own; absent in specs saved before schemas (the demo's declarations apply).
    declarations: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def fit(cls, claims: pd.DataFrame, schema: Schema | None = None) -> FieldSpec:
        schema = schema or active_schema()
        items = _encoding_order(schema.model_fields_read)
        spec = cls(
            fields=[(item.name, encoding_of(item)) for item in items],
            declarations={item.name: item.model_dump(mode="json") for item in items},
        )
        for item in items:
            if encoding_of(item) == "number":
                values = raw_number(claims, item)
                mean = float(values.mean()) if values.notna().any() else 0.0
                spec.means[item.name] = mean
                spec.stds[item.name] = float(values.std(ddof=0)) if values.notna().sum() > 1 else 1.0
                spec.stds[item.name] = spec.stds[item.name] or 1.0
            elif encoding_of(item) == "category":
                counts = _categories(claims[item.name]).value_counts()
                values_seen = sorted(counts.index)
                spec.vocab[item.name] = [*values_seen, OTHER]
                total = float(counts.sum()) or 1.0
                spec.frequencies[item.name] = [float(counts[v]) / total for v in values_seen] + [0.0]
        return spec

    def _declaration(self, name: str) -> StoredField | DerivedField:
        if name not in self.declarations:  # a spec from before schemas: the demo's fields
            from core.schema import DEMO_SCHEMA, load

            return load(DEMO_SCHEMA).field(name)
        data = self.declarations[name]
        return DerivedField.model_validate(data) if "kind" in data else StoredField.model_validate(data)

    @property
    def columns(self) -> dict[str, list[int]]:
        """Field name -> indexes of its columns in the encoded vector."""
        groups: dict[str, list[int]] = {}
        position = 0
        for name, encoding in self.fields:
            width = {"number": 1, "hour": 3}.get(encoding) or len(self.vocab[name])
            groups[name] = list(range(position, position + width))
            position += width
        return groups

    @property
    def width(self) -> int:
        return sum(len(c) for c in self.columns.values())

    def encode(self, claims: pd.DataFrame) -> np.ndarray:
        parts: list[np.ndarray] = []
        for name, encoding in self.fields:
            if encoding == "number":
                values = raw_number(claims, self._declaration(name))
                parts.append(((values - self.means[name]) / self.stds[name]).fillna(0.0).to_numpy()[:, None])
            elif encoding == "hour":
                declared = self._declaration(name)
                source = claim_fields.derive(claims, declared) if isinstance(declared, DerivedField) else claims[name]
                hour = pd.to_numeric(source, errors="coerce").astype(float).to_numpy()
                angle = 2 * np.pi * hour / 24.0
                night = np.where(np.isnan(hour), 0.0, (hour < 6).astype(float) * 2 - 1)
                parts.append(np.nan_to_num(np.column_stack([np.sin(angle), np.cos(angle), night])))
            else:
                vocab = self.vocab[name]
                index = {value: i for i, value in enumerate(vocab)}
                codes = [index.get(v, len(vocab) - 1) for v in _categories(claims[name])]
                one_hot = np.zeros((len(claims), len(vocab)))
                one_hot[np.arange(len(claims)), codes] = 1.0
                parts.append(one_hot)
        if not parts:
            return np.zeros((len(claims), 0), dtype=np.float32)
        return np.concatenate(parts, axis=1).astype(np.float32)

    def background(self) -> np.ndarray:
        """The 'field unknown' vector: training means (0 after scaling), category frequencies.
        An hour's is the circle's centre: a typical daytime hour's encoding is not 'unknown'."""
        vector = np.zeros(self.width, dtype=np.float32)
        columns = self.columns
        for name, encoding in self.fields:
            if encoding == "category":
                vector[columns[name]] = self.frequencies[name]
        return vector

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldSpec:
        values = dict(data)
        if "fields" in values:
            values["fields"] = [(name, encoding) for name, encoding in values["fields"]]
        return cls(**values)


def _categories(values: pd.Series) -> pd.Series:
    return values.map(lambda v: MISSING if v is None or (isinstance(v, float) and pd.isna(v)) else str(v).lower())

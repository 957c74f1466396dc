"""How a claim's structured fields enter the claim-risk model.

Each *field* (what an adjuster would name: "claimed amount vs insured value", "police
report", ...) becomes one or more columns of a standardised vector. The spec is fitted
on the training claims and saved with the model, so scoring encodes exactly as training
did. Fields are kept as groups of columns so explanations can switch a whole field to
its training-average value and attribute the score to it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

NUMERIC_FIELDS = (
    "amount_vs_insured",
    "claimed_amount",
    "insured_value",
    "policy_age",
    "report_delay",
    "prior_claims",
    "witnesses",
)
CATEGORICAL_FIELDS = ("police_report", "line_of_business", "region", "channel")
HOUR_FIELD = "incident_hour"
FIELD_NAMES = (*NUMERIC_FIELDS, HOUR_FIELD, *CATEGORICAL_FIELDS)
OTHER = "__other__"

# Human wording for explanations ("policy age is 12 days").
# The claim columns the claim model reads (fields and narrative), in one place for
# training, scoring, input hashing and monitoring.
MODEL_INPUTS = (
    "line_of_business", "policy_start_date", "incident_date", "incident_hour", "report_date", "claimed_amount",
    "insured_value", "prior_claims", "police_report", "witnesses", "region", "channel", "narrative",
)  # fmt: skip

FIELD_LABELS = {
    "amount_vs_insured": "claimed amount vs insured value",
    "claimed_amount": "claimed amount",
    "insured_value": "insured value",
    "policy_age": "days from policy start to incident",
    "report_delay": "days from incident to report",
    "prior_claims": "prior claims",
    "witnesses": "witnesses",
    "incident_hour": "hour of the incident",
    "police_report": "police report",
    "line_of_business": "line of business",
    "region": "region",
    "channel": "reporting channel",
}


def raw_numeric(claims: pd.DataFrame) -> pd.DataFrame:
    """Derived numeric fields, before standardisation (log scales where values span decades)."""
    incident = pd.to_datetime(claims["incident_date"])
    return pd.DataFrame(
        {
            "amount_vs_insured": (claims["claimed_amount"] / claims["insured_value"].clip(lower=1.0)).clip(0, 3),
            "claimed_amount": np.log1p(claims["claimed_amount"].astype(float).clip(lower=0)),
            "insured_value": np.log1p(claims["insured_value"].astype(float).clip(lower=0)),
            "policy_age": np.log1p((incident - pd.to_datetime(claims["policy_start_date"])).dt.days.clip(lower=0)),
            "report_delay": np.log1p((pd.to_datetime(claims["report_date"]) - incident).dt.days.clip(lower=0)),
            "prior_claims": claims["prior_claims"].astype(float).clip(0, 20),
            "witnesses": claims["witnesses"].astype(float).clip(0, 20),
        },
        index=claims.index,
    )


@dataclass
class FieldSpec:
    """Fitted encoding: means/stds for numbers, vocabularies and frequencies for categories."""

    means: dict[str, float] = field(default_factory=dict)
    stds: dict[str, float] = field(default_factory=dict)
    vocab: dict[str, list[str]] = field(default_factory=dict)
    frequencies: dict[str, list[float]] = field(default_factory=dict)

    @classmethod
    def fit(cls, claims: pd.DataFrame) -> FieldSpec:
        numeric = raw_numeric(claims)
        spec = cls(
            means={k: float(numeric[k].mean()) for k in NUMERIC_FIELDS},
            stds={k: float(numeric[k].std(ddof=0)) or 1.0 for k in NUMERIC_FIELDS},
        )
        for name in CATEGORICAL_FIELDS:
            counts = claims[name].astype(str).str.lower().value_counts()
            values = sorted(counts.index)
            spec.vocab[name] = [*values, OTHER]
            total = float(counts.sum())
            spec.frequencies[name] = [float(counts[v]) / total for v in values] + [0.0]
        return spec

    @property
    def columns(self) -> dict[str, list[int]]:
        """Field name -> indexes of its columns in the encoded vector."""
        groups: dict[str, list[int]] = {}
        position = 0
        for name in NUMERIC_FIELDS:
            groups[name] = [position]
            position += 1
        groups[HOUR_FIELD] = [position, position + 1, position + 2]
        position += 3
        for name in CATEGORICAL_FIELDS:
            width = len(self.vocab[name])
            groups[name] = list(range(position, position + width))
            position += width
        return groups

    @property
    def width(self) -> int:
        return sum(len(c) for c in self.columns.values())

    def encode(self, claims: pd.DataFrame) -> np.ndarray:
        numeric = raw_numeric(claims)
        parts = [((numeric[k] - self.means[k]) / self.stds[k]).to_numpy()[:, None] for k in NUMERIC_FIELDS]
        hour = claims[HOUR_FIELD].astype(float).to_numpy()
        angle = 2 * np.pi * hour / 24.0
        parts.append(np.column_stack([np.sin(angle), np.cos(angle), (hour < 6).astype(float) * 2 - 1]))
        for name in CATEGORICAL_FIELDS:
            vocab = self.vocab[name]
            index = {value: i for i, value in enumerate(vocab)}
            codes = [index.get(v, len(vocab) - 1) for v in claims[name].astype(str).str.lower()]
            one_hot = np.zeros((len(claims), len(vocab)))
            one_hot[np.arange(len(claims)), codes] = 1.0
            parts.append(one_hot)
        return np.concatenate(parts, axis=1).astype(np.float32)

    def background(self) -> np.ndarray:
        """The 'field unknown' vector: training means (0 after scaling), category frequencies."""
        vector = np.zeros(self.width, dtype=np.float32)
        columns = self.columns
        for name in CATEGORICAL_FIELDS:
            vector[columns[name]] = self.frequencies[name]
        # Hour: a typical daytime hour's encoding is not "unknown"; use the circle's centre.
        vector[columns[HOUR_FIELD]] = [0.0, 0.0, 0.0]
        return vector

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FieldSpec:
        return cls(**data)

"""Synthetic insurance claims with a documented, known data-generating process.

No public labelled claims data can be had here, so ClaimLens ships this generator.
It is built so that the true fraud probability of every claim (the *oracle*) is known
exactly, while models that see only the claim face real difficulty.

Data-generating process
-----------------------
Every claim belongs to a *stream* (``regular``, or ``storm`` during a storm) and, inside
its stream, to a latent *component*: ``honest``, ``fraud`` (classic opportunistic fraud)
or ``ring`` (an organised ring, only in the ``new_fraud_ring`` scenario). Given the
component, these observed signals are drawn independently (a naive-Bayes world, which
is what makes the oracle exact rather than estimated):

Structured red flags (bucketed; the exact value is then drawn uniformly inside the
bucket, independently of the component, so only the bucket carries signal):

- days from policy start to incident: fraud concentrates in the first 30/90 days;
- police report yes / no / unknown: fraud more often has none;
- number of witnesses: fraud more often has none;
- claimed amount / insured value: fraud claims close to or above the insured value;
- prior claims count: fraud has more;
- incident hour: fraud more often at night (00-06);
- reporting delay: fraud more often reported late (over two weeks);
- line of business and channel: weakly informative.

Narrative red flags (latent switches rendered into the free text with many phrasings,
see ``core.data.narratives``): pressure for a fast cash settlement, a vague account,
an inconsistent account, missing receipts; and one *honest* signal, good documentation
(photos, receipts, estimates). The narrative also restates some structured facts (time
of day, police report, witnesses) in a share of claims, so some signals live in both.

The oracle is the exact posterior ``P(fraud or ring | signals, stream)`` computed by
Bayes' rule from the tables below, then passed through the label noise: a share of true
fraud is never caught and is labelled honest (soft fraud), a small share of honest
claims is labelled fraud (mistakes). So the oracle is ``P(label = 1 | everything
observable)``, the best any model can do, and still well below a perfect separation.

Scenarios (``shift_at`` sets when the change begins, as a fraction of the period):

- ``baseline``: the same world throughout;
- ``storm_surge``: a storm in the ``south`` region, for 20% of the period: property
  claims surge, amounts rise, reports are late and the vocabulary changes (hail, roof,
  flooding, fallen trees); storm fraud is rarer and opportunistic;
- ``new_fraud_ring``: from the shift on, an organised ring files auto claims in the
  ``east`` region that look clean in the structured fields (police report, witnesses,
  moderate amounts) and share their own phrasing (referrals to one body shop and clinic,
  low-speed rear-end collisions, whiplash). A model trained before the shift misses it.

A live book (``live_book``): a claims department settles most claims within days, so a
year's book read on its last day holds only the recent claims and a tail of slow ones.
With it on, each claim gets a settlement time (lognormal, median
``SETTLE_MEDIAN_DAYS``; claims labelled fraud take ``FRAUD_SETTLE_FACTOR`` times longer,
being investigated), and claims settled before ``end`` are marked ``closed`` with their
outcome (``label_fraud``); open claims have no outcome yet. The draws use their own
random stream, so the claims themselves are the same with it on or off.

Messages are dated before ``end`` (the book is read on that day; a later message has not
been written yet).

Everything is deterministic for a given seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

import numpy as np
import pandas as pd

from core.data import messages as message_text
from core.data import narratives
from core.data.people import claimant_identity

Scenario = Literal["baseline", "storm_surge", "new_fraud_ring"]
SCENARIOS: tuple[Scenario, ...] = ("baseline", "storm_surge", "new_fraud_ring")
COMPONENTS = ("honest", "fraud", "ring")
FRAUD_COMPONENTS = (1, 2)

LINES = ("auto", "property", "health", "travel")
REGIONS = ("north", "south", "east", "west", "central")
CHANNELS = ("phone", "web", "agent", "app")
POLICE = ("yes", "no", "unknown")
STORM_REGION = "south"
RING_REGION = "east"

# Share of true fraud labelled honest (never caught) and of honest claims labelled fraud.
MISSED_FRAUD_RATE = 0.06
FALSE_FRAUD_RATE = 0.004
STORM_FRAUD_SHARE = 0.5  # storm fraud prior relative to the regular fraud prior
RING_SHARE = 0.035  # share of claims after the shift that the ring files
STORM_SHARE = 0.15  # share of all claims that are storm claims in storm_surge
STORM_LENGTH = 0.2  # share of the period the storm lasts
# Live book: settlement time of a claim (days from report), lognormal around this median.
SETTLE_MEDIAN_DAYS = 2.5
SETTLE_SIGMA = 0.8
FRAUD_SETTLE_FACTOR = 4.0

# Bucket edges for the structured signals (values drawn uniformly inside a bucket).
POLICY_AGE_EDGES = ((0, 30), (30, 90), (90, 365), (365, 3650))
RATIO_EDGES = ((0.02, 0.2), (0.2, 0.5), (0.5, 0.8), (0.8, 0.95), (0.95, 1.15))
HOUR_BUCKETS = ((0, 6), (6, 18), (18, 24))
DELAY_EDGES = ((0, 3), (3, 15), (15, 61))
WITNESS_VALUES = (0, 1, 2, 3)
PRIOR_VALUES = (0, 1, 2, 3, 4)
TEXT_FLAGS = ("cash_pressure", "vague", "inconsistent", "missing_receipts", "documented", "ring_marker")

# Class-conditional tables, one row per component (honest, fraud, ring), per stream.
Table = dict[str, np.ndarray]


def _table(rows: dict[str, list[list[float]]]) -> Table:
    return {name: np.asarray(row, dtype=float) for name, row in rows.items()}


REGULAR: Table = _table(
    {
        "line": [[0.40, 0.30, 0.20, 0.10], [0.42, 0.26, 0.16, 0.16], [1.0, 0.0, 0.0, 0.0]],
        "region": [[0.2] * 5, [0.2] * 5, [0.0, 0.0, 1.0, 0.0, 0.0]],
        "channel": [[0.35, 0.30, 0.20, 0.15], [0.30, 0.40, 0.12, 0.18], [0.50, 0.20, 0.25, 0.05]],
        "policy_age": [[0.05, 0.11, 0.30, 0.54], [0.25, 0.25, 0.25, 0.25], [0.02, 0.08, 0.70, 0.20]],
        "police": [[0.55, 0.30, 0.15], [0.35, 0.45, 0.20], [0.92, 0.03, 0.05]],
        "witnesses": [[0.38, 0.34, 0.18, 0.10], [0.55, 0.27, 0.12, 0.06], [0.05, 0.45, 0.40, 0.10]],
        "ratio": [[0.32, 0.34, 0.20, 0.09, 0.05], [0.14, 0.24, 0.25, 0.20, 0.17], [0.02, 0.18, 0.65, 0.13, 0.02]],
        "prior": [[0.60, 0.25, 0.09, 0.04, 0.02], [0.42, 0.28, 0.15, 0.09, 0.06], [0.85, 0.12, 0.02, 0.01, 0.0]],
        "hour": [[0.08, 0.70, 0.22], [0.20, 0.55, 0.25], [0.05, 0.80, 0.15]],
        "delay": [[0.58, 0.32, 0.10], [0.42, 0.33, 0.25], [0.70, 0.28, 0.02]],
        "cash_pressure": [[0.04], [0.26], [0.10]],
        "vague": [[0.12], [0.33], [0.10]],
        "inconsistent": [[0.03], [0.22], [0.03]],
        "missing_receipts": [[0.10], [0.30], [0.05]],
        "documented": [[0.45], [0.22], [0.70]],
        "ring_marker": [[0.01], [0.01], [0.85]],
    }
)

# Storm claims: property in the storm region, late reports, higher amounts, few witnesses.
STORM: Table = {
    **REGULAR,
    **_table(
        {
            "line": [[0.02, 0.96, 0.0, 0.02], [0.02, 0.96, 0.0, 0.02], [0.02, 0.96, 0.0, 0.02]],
            "region": [[0.0, 1.0, 0.0, 0.0, 0.0]] * 3,
            "police": [[0.10, 0.40, 0.50], [0.06, 0.54, 0.40], [0.10, 0.40, 0.50]],
            "witnesses": [[0.55, 0.25, 0.12, 0.08], [0.70, 0.18, 0.08, 0.04], [0.55, 0.25, 0.12, 0.08]],
            "ratio": [[0.10, 0.30, 0.32, 0.18, 0.10], [0.04, 0.18, 0.30, 0.26, 0.22], [0.10, 0.30, 0.32, 0.18, 0.10]],
            "delay": [[0.25, 0.45, 0.30], [0.18, 0.40, 0.42], [0.25, 0.45, 0.30]],
            "hour": [[0.25, 0.50, 0.25], [0.30, 0.45, 0.25], [0.25, 0.50, 0.25]],
        }
    ),
}

INSURED_VALUE = {  # lognormal (median, sigma) of the insured value / cover limit per line
    "auto": (24_000, 0.45),
    "property": (320_000, 0.55),
    "health": (60_000, 0.50),
    "travel": (6_000, 0.40),
}


@dataclass(frozen=True)
class GeneratorConfig:
    claims: int = 5000
    seed: int = 7
    scenario: Scenario = "baseline"
    start: date = date(2025, 11, 1)
    end: date = date(2026, 10, 31)
    fraud_rate: float = 0.08
    shift_at: float = 0.5
    live_book: bool = False  # close what a department would have settled by `end` (see above)

    def __post_init__(self) -> None:
        if self.claims < 1:
            raise ValueError("claims must be at least 1")
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}; choose one of {', '.join(SCENARIOS)}")
        if self.end <= self.start:
            raise ValueError("end date must be after start date")
        if not 0.005 <= self.fraud_rate <= 0.5:
            raise ValueError("fraud_rate must lie between 0.005 and 0.5")
        if not 0.0 < self.shift_at < 1.0:
            raise ValueError("shift_at must lie strictly between 0 and 1")

    @property
    def shift_date(self) -> date:
        return self.start + timedelta(days=int((self.end - self.start).days * self.shift_at))


@dataclass
class GeneratedData:
    """Claims (import format, one row per claim) and their messages."""

    claims: pd.DataFrame
    messages: pd.DataFrame
    config: GeneratorConfig = field(repr=False)


def generate(config: GeneratorConfig) -> GeneratedData:
    rng = np.random.default_rng(config.seed)
    text_rng = random.Random(config.seed)
    frames = [_draw_stream(rng, config, "regular", _regular_count(config))]
    if config.scenario == "storm_surge":
        frames.append(_draw_stream(rng, config, "storm", round(config.claims * STORM_SHARE)))
    signals = pd.concat(frames, ignore_index=True)
    signals = signals.sort_values(["report_date", "stream"], kind="stable").reset_index(drop=True)
    claims = _render_claims(signals, rng, text_rng, config)
    messages = message_text.generate_messages(claims, signals, text_rng)
    messages = messages[messages["sent_at"] < datetime.combine(config.end, datetime.min.time())]
    if config.live_book:
        claims = _settle(claims, config)
    return GeneratedData(claims=claims, messages=messages.reset_index(drop=True), config=config)


def _settle(claims: pd.DataFrame, config: GeneratorConfig) -> pd.DataFrame:
    """Mark the claims settled by `end` closed; the rest stay open, without an outcome."""
    rng = np.random.default_rng([config.seed, 1])  # its own stream: the claims stay as drawn
    settle_days = SETTLE_MEDIAN_DAYS * np.exp(rng.normal(0.0, SETTLE_SIGMA, len(claims)))
    settle_days = np.where(claims["label_fraud"] == 1, settle_days * FRAUD_SETTLE_FACTOR, settle_days)
    age_days = np.array([(config.end - day).days for day in claims["report_date"]])
    closed = settle_days < age_days
    return claims.assign(closed=closed, label_fraud=claims["label_fraud"].astype(object).where(closed, None))


def _regular_count(config: GeneratorConfig) -> int:
    if config.scenario == "storm_surge":
        return config.claims - round(config.claims * STORM_SHARE)
    return config.claims


def fraud_prior(config: GeneratorConfig) -> float:
    """Prior of true fraud such that the *labelled* fraud rate equals `fraud_rate`."""
    return (config.fraud_rate - FALSE_FRAUD_RATE) / (1.0 - MISSED_FRAUD_RATE - FALSE_FRAUD_RATE)


def _component_priors(config: GeneratorConfig, stream: str, after_shift: np.ndarray) -> np.ndarray:
    """Per-claim prior over (honest, fraud, ring)."""
    fraud = fraud_prior(config) * (STORM_FRAUD_SHARE if stream == "storm" else 1.0)
    ring = np.where(after_shift & (config.scenario == "new_fraud_ring"), RING_SHARE, 0.0)
    return np.column_stack([1.0 - fraud - ring, np.full_like(ring, fraud), ring])


def _draw_stream(rng: np.random.Generator, config: GeneratorConfig, stream: str, n: int) -> pd.DataFrame:
    if n <= 0:
        return pd.DataFrame()
    table = STORM if stream == "storm" else REGULAR
    report_date = _draw_report_dates(rng, config, stream, n)
    after_shift = report_date >= np.datetime64(config.shift_date)
    priors = _component_priors(config, stream, after_shift)
    component = _draw_rows(rng, priors)
    columns: dict[str, np.ndarray] = {"stream": np.full(n, stream), "component": component}
    log_lik = np.log(np.clip(priors, 1e-300, None))
    for name, probs in table.items():
        if probs.shape[1] == 1:  # binary flag with P(flag = 1)
            p_true = probs[:, 0]
            value = (rng.random(n) < p_true[component]).astype(int)
            p_value = np.where(value[:, None] == 1, p_true[None, :], 1.0 - p_true[None, :])
        else:
            value = _draw_rows(rng, probs[component])
            p_value = probs[:, value].T
        columns[name] = value
        log_lik = log_lik + np.log(np.clip(p_value, 1e-300, None))
    posterior = np.exp(log_lik - log_lik.max(axis=1, keepdims=True))
    posterior /= posterior.sum(axis=1, keepdims=True)
    p_fraud = posterior[:, list(FRAUD_COMPONENTS)].sum(axis=1)
    oracle = p_fraud * (1 - MISSED_FRAUD_RATE) + (1 - p_fraud) * FALSE_FRAUD_RATE
    is_true_fraud = component > 0
    flip = rng.random(n)
    label = np.where(is_true_fraud, flip >= MISSED_FRAUD_RATE, flip < FALSE_FRAUD_RATE)
    columns.update(report_date=report_date, oracle=oracle, label=label.astype(int))
    return pd.DataFrame(columns)


def _draw_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One categorical draw per row of `probs` (rows sum to 1)."""
    cumulative = np.cumsum(probs, axis=-1)
    cumulative[..., -1] = 1.0
    u = rng.random(cumulative.shape[0] if cumulative.ndim == 2 else 1)
    if cumulative.ndim == 1:
        return np.searchsorted(cumulative, u, side="right")
    return (u[:, None] >= cumulative).sum(axis=1)


def _draw_report_dates(rng: np.random.Generator, config: GeneratorConfig, stream: str, n: int) -> np.ndarray:
    days = (config.end - config.start).days
    if stream == "storm":
        first = int(days * config.shift_at)
        length = max(1, int(days * STORM_LENGTH))
        # Storm claims pile up in the first weeks after the storm and tail off.
        offsets = first + np.minimum(rng.exponential(length / 3.0, n), length - 1).astype(int)
    else:
        offsets = rng.integers(0, days + 1, n)
    return np.datetime64(config.start) + offsets.astype("timedelta64[D]")


def _uniform_in(rng: np.random.Generator, edges: tuple[tuple[float, float], ...], bucket: np.ndarray) -> np.ndarray:
    lows = np.array([e[0] for e in edges], dtype=float)[bucket]
    highs = np.array([e[1] for e in edges], dtype=float)[bucket]
    return lows + rng.random(bucket.shape[0]) * (highs - lows)


def _render_claims(
    signals: pd.DataFrame, rng: np.random.Generator, text_rng: random.Random, config: GeneratorConfig
) -> pd.DataFrame:
    n = len(signals)
    line = np.array(LINES)[signals["line"].to_numpy()]
    medians = np.array([INSURED_VALUE[x][0] for x in line])
    sigmas = np.array([INSURED_VALUE[x][1] for x in line])
    insured = np.round(medians * np.exp(rng.normal(0.0, 1.0, n) * sigmas), -2)
    ratio = _uniform_in(rng, RATIO_EDGES, signals["ratio"].to_numpy())
    amount = np.round(insured * ratio, 2)
    delay = np.floor(_uniform_in(rng, DELAY_EDGES, signals["delay"].to_numpy())).astype(int)
    policy_age = np.floor(_uniform_in(rng, POLICY_AGE_EDGES, signals["policy_age"].to_numpy())).astype(int)
    hour = np.floor(_uniform_in(rng, HOUR_BUCKETS, signals["hour"].to_numpy())).astype(int)
    report = signals["report_date"].to_numpy().astype("datetime64[D]")
    incident = report - delay.astype("timedelta64[D]")
    policy_start = incident - policy_age.astype("timedelta64[D]")
    police = np.array(POLICE)[signals["police"].to_numpy()]
    witnesses = np.array(WITNESS_VALUES)[signals["witnesses"].to_numpy()]
    prior = np.array(PRIOR_VALUES)[signals["prior"].to_numpy()]
    region = np.array(REGIONS)[signals["region"].to_numpy()]
    channel = np.array(CHANNELS)[signals["channel"].to_numpy()]

    streams = signals["stream"].tolist()
    flag_rows = signals[list(TEXT_FLAGS)].astype(bool).to_dict("records")
    labels, oracles = signals["label"].tolist(), signals["oracle"].tolist()
    records = []
    for i in range(n):
        facts = narratives.NarrativeFacts(
            line=str(line[i]),
            stream=streams[i],
            hour=int(hour[i]),
            police_report=str(police[i]),
            witnesses=int(witnesses[i]),
            claimed_amount=float(amount[i]),
            flags=flag_rows[i],
        )
        name, contact = claimant_identity(text_rng)
        records.append(
            {
                "claim_number": f"CLM-{config.seed}-{i + 1:07d}",
                "policy_number": f"POL-{text_rng.randrange(10**7, 10**8)}",
                "line_of_business": facts.line,
                "policy_start_date": _as_date(policy_start[i]),
                "incident_date": _as_date(incident[i]),
                "incident_hour": int(hour[i]),
                "report_date": _as_date(report[i]),
                "claimed_amount": float(amount[i]),
                "insured_value": float(insured[i]),
                "prior_claims": int(prior[i]),
                "police_report": facts.police_report,
                "witnesses": int(witnesses[i]),
                "region": str(region[i]),
                "channel": str(channel[i]),
                "claimant_name": name,
                "claimant_contact": contact,
                "narrative": narratives.render(facts, text_rng),
                "label_fraud": int(labels[i]),
                "oracle_fraud_probability": round(float(oracles[i]), 6),
            }
        )
    return pd.DataFrame.from_records(records)


def _as_date(value: np.datetime64) -> date:
    return value.astype(object)  # datetime64[D] converts straight to datetime.date


def message_time(report_date: date, offset_days: float) -> datetime:
    return datetime.combine(report_date, datetime.min.time()) + timedelta(days=offset_days)

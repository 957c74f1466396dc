"""Drift calculators: compare a current window of claims, predictions, narratives and
messages with the champion's reference (training) window and return `Metric` results.

How a verdict is reached (`DriftThresholds`, from the `CLAIMLENS_DRIFT_*` settings):

- every metric has an effect size with a threshold (PSI 0.1 — the model-risk convention's
  "moderate shift" — Jensen–Shannon distance 0.1, Wasserstein 0.1 reference standard
  deviations, a domain classifier's AUC 0.6, 5 points of flag rate, 10 points of negative
  sentiment, 0.05 of estimated ROC-AUC), and
- a test of whether the change could be chance (KS, chi-square, two-proportion z, Mann–
  Whitney), at a family-wise `alpha` of 1% per window, Bonferroni-divided by the number of
  tests in the report.

A metric drifts only when both hold. With small windows the test is the binding
condition (a few hundred rows cannot show a 0.1 PSI reliably); with large windows the
effect size is (every test is "significant" at 100,000 rows). That is how the method
adapts to sample size. Segments and samples smaller than `min_rows` get no verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core import claim_fields
from core.bands import FLAGGED
from core.config import default, get_settings
from core.modeling.features import encoding_of, raw_number
from core.monitoring import cbpe, stats
from core.schema import FieldType, Schema, active_schema


def numeric_fields(schema: Schema | None = None) -> tuple[str, ...]:
    """The fields tested as numbers (PSI and KS): the model's numbers, hours, booleans and
    ordinal bins (by rank), derived fields included; named as `core.claim_fields` names
    them, so a report, an explanation and the review page call a signal the same."""
    return tuple(item.name for item in (schema or active_schema()).model_fields_read if encoding_of(item) != "category")


def categorical_fields(schema: Schema | None = None) -> tuple[str, ...]:
    """The fields tested as categories (Jensen-Shannon and chi-square)."""
    return tuple(item.name for item in (schema or active_schema()).model_fields_read if encoding_of(item) == "category")


def segment_columns(schema: Schema | None = None) -> tuple[str, ...]:
    """The columns a report is also run within, value by value (the schema's segments)."""
    return (schema or active_schema()).segments


TOP_TERMS = 15
TERM_LOG2_CHANGE = 1.0  # a word in at least twice the share of narratives
TERM_MIN_SHARE = 0.02  # ... and in at least 2% of this window's narratives
CHANCE_AUC = 0.5  # a domain classifier that cannot tell the windows apart
MIN_REALIZED = 30  # labelled claims for a realized ROC-AUC


@dataclass(frozen=True)
class DriftThresholds:
    """The verdicts' thresholds; `configured()` reads them from the `CLAIMLENS_DRIFT_*` settings."""

    psi: float = default("drift_psi")
    js_distance: float = default("drift_js_distance")
    wasserstein: float = default("drift_wasserstein")
    flag_rate_change: float = default("drift_flag_rate_change")
    negative_share_change: float = default("drift_negative_share_change")
    domain_auc: float = default("drift_domain_auc")
    auc_drop: float = default("drift_auc_drop")
    alpha: float = default("drift_alpha")
    min_rows: int = default("drift_min_rows")

    @classmethod
    def configured(cls) -> DriftThresholds:
        s = get_settings()
        return cls(s.drift_psi, s.drift_js_distance, s.drift_wasserstein, s.drift_flag_rate_change,
                   s.drift_negative_share_change, s.drift_domain_auc, s.drift_auc_drop, s.drift_alpha,
                   s.drift_min_rows)  # fmt: skip


@dataclass
class Metric:
    family: str  # field | prediction | text | sentiment | performance
    name: str
    segment: str  # "all", "line_of_business=auto", "region=south"
    method: str
    value: float
    threshold: float
    p_value: float | None
    n_reference: int
    n_current: int
    details: dict[str, Any] = field(default_factory=dict)
    drift: bool = False
    severity: float = 0.0  # effect / threshold under the verdict rule (set by `decide`)

    def to_dict(self) -> dict[str, Any]:
        return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> Metric:
        """A metric as `to_dict` stored it (a value it could not store, NaN, back as NaN)."""
        known = {name: stored[name] for name in cls.__dataclass_fields__ if name in stored}
        for name in ("value", "threshold", "severity"):
            if known.get(name) is None:
                known[name] = float("nan")
        known["details"] = dict(known.get("details") or {})
        return cls(**known)


def derive_fields(claims: pd.DataFrame, schema: Schema | None = None) -> pd.DataFrame:
    """Add the derived claim fields monitored besides the stored columns (`core.claim_fields`)."""
    return claim_fields.with_derived(claims, schema)


def _numbers(frame: pd.DataFrame, name: str, schema: Schema) -> np.ndarray:
    """A numeric field's values as the report reads them: an ordinal bin as its rank, a
    boolean as 0/1, other numbers as stored (not scaled as the model reads them)."""
    item = schema.field(name)
    if item.type in (FieldType.ORDINAL, FieldType.BOOLEAN):
        return raw_number(frame, item).dropna().to_numpy(dtype=float)
    return _clean(frame[name])


def field_metrics(reference: pd.DataFrame, current: pd.DataFrame, segment: str, t: DriftThresholds) -> list[Metric]:
    metrics = []
    skip = segment.split("=")[0]  # inside a segment its own column is constant
    schema = active_schema()
    for name in numeric_fields(schema):
        ref, cur = _numbers(reference, name, schema), _numbers(current, name, schema)
        if min(len(ref), len(cur)) < t.min_rows:
            continue
        ks, p = stats.ks_p(ref, cur)
        metrics.append(
            Metric(
                "field",
                name,
                segment,
                "psi+ks",
                stats.psi_numeric(ref, cur),
                t.psi,
                p,
                len(ref),
                len(cur),
                {
                    "ks": ks,
                    "wasserstein_sd": stats.wasserstein_scaled(ref, cur),
                    "reference_median": float(np.median(ref)),
                    "current_median": float(np.median(cur)),
                },
            )
        )
    for name in categorical_fields(schema):
        if name == skip:
            continue
        ref, cur = reference[name].astype(str).to_numpy(), current[name].astype(str).to_numpy()
        if min(len(ref), len(cur)) < t.min_rows:
            continue
        categories, ref_counts, cur_counts = stats.category_shares(ref, cur)
        metrics.append(
            Metric(
                "field",
                name,
                segment,
                "js+chi2",
                stats.js_distance(ref, cur),
                t.js_distance,
                stats.chi_square_p(ref, cur),
                len(ref),
                len(cur),
                {
                    "psi": stats.psi_categorical(ref, cur),
                    "reference_shares": dict(
                        zip(categories, (ref_counts / ref_counts.sum()).round(4).tolist(), strict=True)
                    ),
                    "current_shares": dict(
                        zip(categories, (cur_counts / cur_counts.sum()).round(4).tolist(), strict=True)
                    ),
                },
            )
        )
    return metrics


def _clean(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").dropna().to_numpy(dtype=float)


def prediction_metrics(
    reference: pd.DataFrame, current: pd.DataFrame, segment: str, t: DriftThresholds
) -> list[Metric]:
    ref, cur = reference.dropna(subset=["probability"]), current.dropna(subset=["probability"])
    if min(len(ref), len(cur)) < t.min_rows:
        return []
    ref_p, cur_p = ref["probability"].to_numpy(float), cur["probability"].to_numpy(float)
    ks, p = stats.ks_p(ref_p, cur_p)
    flagged_ref, flagged_cur = (
        int(ref["band"].isin(FLAGGED).sum()),
        int(cur["band"].isin(FLAGGED).sum()),
    )
    change, p_flag = stats.two_proportions(flagged_ref, len(ref), flagged_cur, len(cur))
    bands_ref, bands_cur = ref["band"].astype(str).to_numpy(), cur["band"].astype(str).to_numpy()
    return [
        Metric(
            "prediction",
            "score_distribution",
            segment,
            "psi+ks",
            stats.psi_numeric(ref_p, cur_p),
            t.psi,
            p,
            len(ref),
            len(cur),
            {
                "ks": ks,
                "reference_mean": float(ref_p.mean()),
                "current_mean": float(cur_p.mean()),
                "reference_histogram": _histogram(ref_p),
                "current_histogram": _histogram(cur_p),
            },
        ),
        Metric(
            "prediction",
            "band_mix",
            segment,
            "js+chi2",
            stats.js_distance(bands_ref, bands_cur),
            t.js_distance,
            stats.chi_square_p(bands_ref, bands_cur),
            len(ref),
            len(cur),
        ),
        Metric(
            "prediction",
            "flag_rate",
            segment,
            "difference+z",
            abs(change),
            t.flag_rate_change,
            p_flag,
            len(ref),
            len(cur),
            {"reference": flagged_ref / len(ref), "current": flagged_cur / len(cur)},
        ),
    ]


def _histogram(probabilities: np.ndarray, bins: int = 20) -> list[float]:
    """Share of predictions per probability bin of width 1/bins (for the overlay chart)."""
    counts = np.histogram(probabilities, bins=bins, range=(0.0, 1.0))[0]
    return (counts / max(len(probabilities), 1)).round(5).tolist()


def text_metric(reference: np.ndarray, current: np.ndarray, t: DriftThresholds) -> list[Metric]:
    """Drift of the encoder's narrative embeddings: can a classifier tell the windows apart?"""
    if min(len(reference), len(current)) < t.min_rows:
        return []
    auc, p = stats.domain_classifier_auc(reference, current)
    return [
        Metric(
            "text",
            "narrative_embeddings",
            "all",
            "domain_classifier_auc",
            auc,
            t.domain_auc,
            p,
            len(reference),
            len(current),
        )
    ]


def changed_terms(reference: Iterable[str], current: Iterable[str], top: int = TOP_TERMS) -> list[dict[str, Any]]:
    """Words whose share of narratives changed most (smoothed log ratio of document
    frequencies), so a manager sees what changed, not only that something did."""
    from sklearn.feature_extraction.text import CountVectorizer

    ref_docs, cur_docs = list(reference), list(current)
    if not ref_docs or not cur_docs:
        return []
    vectorizer = CountVectorizer(binary=True, min_df=3, stop_words="english", token_pattern=r"(?u)\b[a-zA-Z]{3,}\b")
    try:
        counts = vectorizer.fit_transform(ref_docs + cur_docs)
    except ValueError:  # no word appears often enough
        return []
    ref_df = np.asarray(counts[: len(ref_docs)].sum(axis=0)).ravel()
    cur_df = np.asarray(counts[len(ref_docs) :].sum(axis=0)).ravel()
    ref_rate, cur_rate = (ref_df + 1) / (len(ref_docs) + 2), (cur_df + 1) / (len(cur_docs) + 2)
    change = np.log2(cur_rate / ref_rate)
    terms = vectorizer.get_feature_names_out()
    order = np.argsort(-np.abs(change) * np.sqrt(cur_df + ref_df))[:top]
    return [
        {
            "term": str(terms[i]),
            "reference_share": float(ref_df[i] / len(ref_docs)),
            "current_share": float(cur_df[i] / len(cur_docs)),
            "log2_change": float(change[i]),
            "reference_docs": int(ref_df[i]),
            "current_docs": int(cur_df[i]),
            "terms_compared": len(terms),
            "reference_n": len(ref_docs),
            "current_n": len(cur_docs),
        }
        for i in order
    ]


def term_metric(terms: list[dict[str, Any]], t: DriftThresholds) -> list[Metric]:
    """The narrative word whose share rose most significantly: new vocabulary (a storm, a
    fraud ring's script) shows here before it moves the embeddings of a whole window.
    Its p-value is multiplied by the number of words compared (Bonferroni)."""
    rising = [term for term in terms if term["log2_change"] > 0 and term["current_share"] >= TERM_MIN_SHARE]
    if not rising or min(terms[0]["reference_n"], terms[0]["current_n"]) < t.min_rows:
        return []
    scored = []
    for term in rising:
        _, p = stats.two_proportions(
            term["reference_docs"], term["reference_n"], term["current_docs"], term["current_n"]
        )
        scored.append((min(1.0, p * term["terms_compared"]), term))
    p, top = min(scored, key=lambda item: item[0])
    return [
        Metric(
            "text",
            "term_shift",
            "all",
            "log2 share change+z",
            top["log2_change"],
            TERM_LOG2_CHANGE,
            p,
            top["reference_n"],
            top["current_n"],
            {"term": top["term"], "reference": top["reference_share"], "current": top["current_share"]},
        )
    ]


def sentiment_metric(reference: pd.Series, current: pd.Series, t: DriftThresholds) -> list[Metric]:
    if min(len(reference), len(current)) < t.min_rows:
        return []
    ref_hits, cur_hits = int((reference == "negative").sum()), int((current == "negative").sum())
    change, p = stats.two_proportions(ref_hits, len(reference), cur_hits, len(current))
    return [
        Metric(
            "sentiment",
            "negative_share",
            "all",
            "difference+z",
            change,
            t.negative_share_change,
            p,
            len(reference),
            len(current),
            {"reference": ref_hits / len(reference), "current": cur_hits / len(current)},
        )
    ]


@dataclass(frozen=True)
class PerformanceReference:
    """What one segment's estimated ROC-AUC is compared with: CBPE's estimate on the
    segment's reference (test) claims under the same calibration as the windows', and
    the ROC-AUC realized on them. `estimated` is None, and `why` says so, when the segment
    has too few reference claims: it then gets no performance verdict."""

    estimated: float | None
    realized: float | None
    n: int
    why: str | None = None


@dataclass(frozen=True)
class PerformanceBaseline:
    """CBPE's calibration and each segment's `PerformanceReference`."""

    calibration: cbpe.Calibration
    segments: Mapping[str, PerformanceReference] = field(default_factory=dict)

    def reference(self, segment: str) -> PerformanceReference:
        missing = PerformanceReference(None, None, 0, "no reference claims in this segment: no performance verdict")
        return self.segments.get(segment, missing)


NO_BASELINE = PerformanceBaseline(cbpe.IDENTITY)


def performance_baseline(
    reference: pd.DataFrame, calibration: cbpe.Calibration, t: DriftThresholds
) -> PerformanceBaseline:
    """The reference estimate of all claims and of each value of `segment_columns()` among
    the scored `reference` claims (`probability`, `label` and the segment columns)."""
    scored = reference.dropna(subset=["probability"])
    segments = {"all": performance_reference(scored, calibration, t)}
    for column in segment_columns():
        for value, claims in scored.groupby(column):
            segments[f"{column}={value}"] = performance_reference(claims, calibration, t)
    return PerformanceBaseline(calibration, segments)


def performance_reference(
    scored: pd.DataFrame, calibration: cbpe.Calibration, t: DriftThresholds
) -> PerformanceReference:
    """The estimate on these reference claims, or none when they are fewer than
    `min_rows` (the rule a window's segment is held to), and their realized ROC-AUC."""
    realized = _realized(scored.dropna(subset=["label"]))
    if len(scored) < t.min_rows:
        why = f"{len(scored)} reference claims in this segment, {t.min_rows} needed: no performance verdict"
        return PerformanceReference(None, realized, len(scored), why)
    estimated = cbpe.estimated_auc(scored["probability"].to_numpy(float), calibration)
    return PerformanceReference(estimated, realized, len(scored))


def _realized(labelled: pd.DataFrame) -> float | None:
    """ROC-AUC of the probability against `label`, given `MIN_REALIZED` labels of both kinds."""
    if len(labelled) < MIN_REALIZED or labelled["label"].nunique() != 2:
        return None
    return stats.realized_auc(labelled["probability"].to_numpy(float), labelled["label"].to_numpy(bool))


def performance_metric(
    current: pd.DataFrame, baseline: PerformanceBaseline, threshold: float, segment: str, t: DriftThresholds
) -> list[Metric]:
    """Estimated ROC-AUC (CBPE: from the probabilities recalibrated on the champion's test
    claims, no labels needed) against the same estimate on the segment's test claims; the
    realized AUC where at least `MIN_REALIZED` claims of the window have a known outcome
    (`label`: an adjuster's decision, else the label the claim came with) of both kinds.
    Without a reference estimate the metric has no value, hence no verdict."""
    scored = current.dropna(subset=["probability"])
    if len(scored) < t.min_rows:
        return []
    reference = baseline.reference(segment)
    estimate = cbpe.estimate(scored["probability"].to_numpy(float), baseline.calibration, threshold)
    drop = float("nan") if reference.estimated is None else reference.estimated - estimate.roc_auc
    # No test statistic (p-value None): the drop must also exceed twice its uncertainty.
    beyond_uncertainty = bool(np.isfinite(estimate.roc_auc_std) and drop > 2 * estimate.roc_auc_std)
    details = _performance_details(scored, estimate, reference, baseline.calibration)
    details["beyond_uncertainty"] = beyond_uncertainty
    return [
        Metric("performance", "roc_auc", segment, "cbpe", drop, t.auc_drop, None, reference.n, len(scored), details)
    ]


def _performance_details(
    scored: pd.DataFrame, estimate: cbpe.Estimate, reference: PerformanceReference, calibration: cbpe.Calibration
) -> dict[str, Any]:
    labelled = scored.dropna(subset=["label"])
    return {
        "estimated": estimate.roc_auc,
        "estimated_std": estimate.roc_auc_std,
        "estimated_lower": estimate.roc_auc_lower,
        "estimated_upper": estimate.roc_auc_upper,
        "reference_estimated": reference.estimated,
        "reference_realized": reference.realized,
        "reference_n": reference.n,
        "no_verdict": reference.why,
        "realized": _realized(labelled),
        "realized_n": len(labelled),
        "realized_decisions": int(labelled["decision_label"].notna().sum()) if "decision_label" in labelled else 0,
        "estimated_precision": estimate.precision,
        "estimated_recall": estimate.recall,
        "expected_fraud_rate": estimate.expected_fraud_rate,
        "observed_fraud_rate": float(labelled["label"].mean()) if len(labelled) else None,
        "calibration": calibration.source,
        "calibration_n": calibration.reference_n,
    }


def severity(
    family: str, method: str, value: float | None, threshold: float, details: Mapping[str, Any], wasserstein: float
) -> float:
    """The effect as a multiple of its threshold under the metric's verdict rule in
    `decide` (1 = at the threshold; the verdict's effect condition is `severity >= 1`):
    a domain classifier's AUC counts from chance (0.5), an estimated ROC-AUC only when it
    dropped, a numeric field by the larger of its PSI and Wasserstein ratios. NaN when the
    metric has no finite value."""
    if value is None or not np.isfinite(value):
        return float("nan")
    if family == "performance":  # only a drop counts
        return max(float(value), 0.0) / threshold
    if method == "domain_classifier_auc":  # below chance is noise, not drift
        return max(float(value) - CHANCE_AUC, 0.0) / (threshold - CHANCE_AUC)
    ratio = abs(float(value)) / threshold
    if family == "field" and details.get("wasserstein_sd") is not None:
        ratio = max(ratio, float(details["wasserstein_sd"]) / wasserstein)
    return ratio


def decide(metrics: list[Metric], t: DriftThresholds) -> list[Metric]:
    """Set each metric's severity and verdict: effect at or over its threshold (severity
    >= 1) and significant at the Bonferroni-corrected level over all tests in the report."""
    level = t.alpha / max(sum(m.p_value is not None for m in metrics), 1)
    for metric in metrics:
        metric.severity = severity(
            metric.family, metric.method, metric.value, metric.threshold, metric.details, t.wasserstein
        )
        effect = bool(metric.severity >= 1)  # False for NaN
        if metric.family == "performance":  # only a drop counts, and only beyond its uncertainty
            metric.drift = effect and bool(metric.details["beyond_uncertainty"])
            continue
        metric.drift = bool(effect and metric.p_value is not None and metric.p_value < level)
        metric.details["significance_level"] = level
    return metrics

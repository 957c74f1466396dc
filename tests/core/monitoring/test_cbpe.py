"""Confidence-based performance estimation on simulated scores with known true
probabilities: the estimate matches the realized ROC-AUC when its assumptions hold, the
recalibration removes a miscalibrated model's bias, the interval stays inside [0, 1], and
the estimate's blind spot (a calibration break) is what the tests say it is."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.monitoring import cbpe, drift, stats


def logit(p: np.ndarray) -> np.ndarray:
    return np.log(p / (1 - p))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def world(n: int, rng: np.random.Generator, spread: float = 1.4) -> tuple[np.ndarray, np.ndarray]:
    """True fraud probabilities (about 8% fraud; a smaller `spread` makes claims more alike,
    so harder to rank) and a model's score that is miscalibrated: under-confident and too
    low, as a Platt fit on a small validation set can leave it."""
    truth = sigmoid(rng.normal(-3.0, spread, n))
    score = sigmoid(0.6 * logit(truth) - 0.7)
    return truth, score


def mean_realized(score: np.ndarray, truth: np.ndarray, rng: np.random.Generator, draws: int = 60) -> float:
    return float(np.mean([stats.realized_auc(score, rng.random(len(truth)) < truth) for _ in range(draws)]))


def test_expected_auc_is_the_mean_auc_of_labels_drawn_from_the_probabilities_with_ties() -> None:
    rng = np.random.default_rng(1)
    probabilities = np.round(rng.beta(1, 6, 20_000), 2)  # rounded: ties must be counted half
    realized = [stats.realized_auc(probabilities, rng.random(len(probabilities)) < probabilities) for _ in range(40)]
    assert cbpe.expected_auc(probabilities, probabilities) == pytest.approx(np.mean(realized), abs=0.003)
    estimate = cbpe.estimate(probabilities, cbpe.IDENTITY, threshold=0.3)
    assert estimate.roc_auc_std == pytest.approx(np.std(realized), rel=0.5)
    labels = rng.random(len(probabilities)) < probabilities
    assert estimate.precision == pytest.approx(labels[probabilities >= 0.3].mean(), abs=4 * estimate.precision_std)


def test_a_miscalibrated_model_is_recalibrated_on_labelled_reference_claims_so_the_estimate_is_unbiased() -> None:
    rng = np.random.default_rng(2)
    ref_truth, ref_score = world(4_000, rng)
    calibration = cbpe.fit_calibration(ref_score, rng.random(len(ref_truth)) < ref_truth, source="test claims")
    assert calibration.fitted and calibration.reference_n == 4_000
    truth, score = world(3_000, rng)
    realized = mean_realized(score, truth, rng)
    before = cbpe.estimate(score, cbpe.IDENTITY, threshold=0.1).roc_auc
    after = cbpe.estimate(score, calibration, threshold=0.1).roc_auc
    assert abs(before - realized) > 0.05  # the old estimate: the champion's own probabilities taken at face value
    assert after == pytest.approx(realized, abs=0.025)  # an isotonic fit on 4,000 claims is itself ±0.02


def test_under_covariate_shift_the_estimate_follows_the_realized_auc_away_from_the_reference() -> None:
    rng = np.random.default_rng(3)
    ref_truth, ref_score = world(4_000, rng)
    calibration = cbpe.fit_calibration(ref_score, rng.random(len(ref_truth)) < ref_truth, source="test claims")
    reference_auc = mean_realized(ref_score, ref_truth, rng)
    truth, score = world(3_000, rng, spread=0.8)  # claims more alike, same relation between score and fraud
    realized = mean_realized(score, truth, rng)
    estimated = cbpe.estimate(score, calibration, threshold=0.1).roc_auc
    assert reference_auc - realized > 0.05  # a legitimate change the estimate must see
    assert estimated == pytest.approx(realized, abs=0.025)


def test_when_calibration_breaks_the_estimate_stays_up_while_the_realized_auc_falls() -> None:
    """The estimate's stated blind spot: claims that score high for reasons that are not
    fraud (a storm's late, large claims) look like fraud to it."""
    rng = np.random.default_rng(4)
    ref_truth, ref_score = world(4_000, rng)
    calibration = cbpe.fit_calibration(ref_score, rng.random(len(ref_truth)) < ref_truth, source="test claims")
    truth, score = world(2_000, rng)
    storm = rng.random(len(score)) < 0.3
    score = np.where(storm, np.clip(score * 3, 0, 0.95), score)  # scored high, not more fraud
    estimate = cbpe.estimate(score, calibration, threshold=0.1)
    realized = mean_realized(score, truth, rng)
    assert realized < estimate.roc_auc_lower  # outside its band: only labels can show this


def test_the_interval_is_clipped_to_zero_and_one() -> None:
    assert cbpe.interval(0.97, 0.04) == (pytest.approx(0.89), 1.0)
    assert cbpe.interval(0.03, 0.04) == (0.0, pytest.approx(0.11))
    assert all(np.isnan(cbpe.interval(float("nan"), 0.1)))
    rng = np.random.default_rng(5)
    few = np.r_[rng.uniform(0.9, 0.99, 6), rng.uniform(0.0, 0.02, 120)]  # nearly separable, tiny window
    estimate = cbpe.estimate(few, cbpe.IDENTITY, threshold=0.5)
    assert estimate.roc_auc + 2 * estimate.roc_auc_std > 1  # the unclipped band would leave [0, 1]
    assert estimate.roc_auc_upper == 1.0 and 0 <= estimate.roc_auc_lower <= estimate.roc_auc


def test_too_few_labelled_reference_claims_keep_the_models_probabilities_and_say_why() -> None:
    rng = np.random.default_rng(6)
    scores = rng.uniform(size=60)
    calibration = cbpe.fit_calibration(scores, scores > 0.5, source="test claims")
    assert not calibration.fitted and "60 labelled reference claims" in calibration.source
    assert np.array_equal(calibration(scores), scores)
    rare = cbpe.fit_calibration(rng.uniform(size=500), np.arange(500) < 5, source="test claims")
    assert not rare.fitted and "5 fraud" in rare.source


BASELINE = drift.PerformanceBaseline(cbpe.IDENTITY, {"all": drift.PerformanceReference(0.8, 0.78, 500)})


def test_the_performance_metric_uses_decisions_else_imported_labels_and_stores_the_clipped_band() -> None:
    rng = np.random.default_rng(7)
    truth, score = world(400, rng)
    labels = (rng.random(400) < truth).astype(float)
    decided = np.where(np.arange(400) < 100, labels, np.nan)  # adjusters decided 100 claims
    frame = pd.DataFrame({"probability": score, "decision_label": decided, "label": labels})
    [metric] = drift.performance_metric(frame, BASELINE, 0.1, "all", drift.DriftThresholds())
    d = metric.details
    assert d["realized"] == pytest.approx(stats.realized_auc(score, labels.astype(bool)))
    assert (d["realized_n"], d["realized_decisions"]) == (400, 100)
    assert 0 <= d["estimated_lower"] <= d["estimated"] <= d["estimated_upper"] <= 1
    assert d["estimated_upper"] == pytest.approx(min(1.0, d["estimated"] + 2 * d["estimated_std"]))
    assert d["calibration"] == cbpe.IDENTITY.source
    unlabelled = frame.assign(label=np.nan, decision_label=np.nan)
    [blind] = drift.performance_metric(unlabelled, BASELINE, 0.1, "all", drift.DriftThresholds())
    assert blind.details["realized"] is None and blind.details["observed_fraud_rate"] is None


def test_the_reference_estimate_is_the_windows_estimator_on_the_reference_claims_per_segment() -> None:
    """The drop is measured from the estimate on the test claims under the same calibration
    (NannyML's reference), not from the ROC-AUC realized there; a segment from its own test
    claims' estimate, and not at all with fewer than `min_rows` of them."""
    rng = np.random.default_rng(8)
    truth, score = world(1_000, rng)
    labels = rng.random(1_000) < truth
    region = np.where(np.arange(1_000) < 940, "north", "south")
    frame = pd.DataFrame({"probability": score, "label": labels.astype(float), "region": region})
    frame["line_of_business"] = "auto"
    calibration = cbpe.fit_calibration(score, labels, source="test claims")
    baseline = drift.performance_baseline(frame, calibration, drift.DriftThresholds())
    whole = baseline.reference("all")
    assert whole.estimated == pytest.approx(cbpe.estimate(score, calibration, threshold=0.1).roc_auc)
    assert whole.realized == pytest.approx(stats.realized_auc(score, labels)) and whole.n == 1_000
    north = baseline.reference("region=north")
    assert north.estimated == pytest.approx(cbpe.estimated_auc(score[:940], calibration)) and north.n == 940
    south = baseline.reference("region=south")
    assert south.estimated is None and south.n == 60 and "60 reference claims" in (south.why or "")
    assert baseline.reference("region=west").estimated is None  # no test claims there at all
    current = frame.iloc[940:].assign(region="south")
    current = pd.concat([current] * 3, ignore_index=True)  # 180 claims: enough for an estimate
    [metric] = drift.performance_metric(current, baseline, 0.1, "region=south", drift.DriftThresholds())
    [judged] = drift.decide([metric], drift.DriftThresholds())
    assert np.isnan(judged.value) and not judged.drift and judged.details["no_verdict"] == south.why

"""Calibration: Platt and temperature scaling recover known distortions; thresholds meet their promises."""

from __future__ import annotations

import numpy as np
import pytest

from training.calibration import MEDIUM_RECALL, fit_platt, fit_temperature, pick_thresholds
from training.evaluation import claim_metrics


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def softmax(x: np.ndarray) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def platt_world(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw logits whose true P(label = 1) is sigmoid(2 * logit - 1): overconfident-in-shape, biased."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 1.5, n)
    labels = (rng.random(n) < sigmoid(2.0 * logits - 1.0)).astype(int)
    return logits, labels


def f1_at(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> float:
    predicted = probabilities >= threshold
    true_positives = float((predicted & (labels == 1)).sum())
    return 2 * true_positives / max(float(predicted.sum() + labels.sum()), 1.0)


def test_platt_recovers_a_known_scale_and_bias() -> None:
    logits, labels = platt_world(40_000, seed=0)
    scale, bias = fit_platt(logits, labels)
    assert scale == pytest.approx(2.0, abs=0.1)
    assert bias == pytest.approx(-1.0, abs=0.1)


def test_platt_on_already_calibrated_logits_stays_near_identity() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0.0, 2.0, 40_000)
    labels = (rng.random(len(logits)) < sigmoid(logits)).astype(int)
    scale, bias = fit_platt(logits, labels)
    assert scale == pytest.approx(1.0, abs=0.08) and bias == pytest.approx(0.0, abs=0.08)


def test_platt_fitted_on_validation_cuts_ece_on_held_out_rows_and_keeps_ranking() -> None:
    val_logits, val_labels = platt_world(20_000, seed=2)
    test_logits, test_labels = platt_world(20_000, seed=3)
    scale, bias = fit_platt(val_logits, val_labels)
    raw = claim_metrics(test_labels, sigmoid(test_logits), 0.5)
    calibrated = claim_metrics(test_labels, sigmoid(test_logits * scale + bias), 0.5)
    assert raw["ece"] > 0.08  # the miscalibration is real
    assert calibrated["ece"] < 0.02 and calibrated["ece"] < raw["ece"] / 4
    assert calibrated["brier"] < raw["brier"]
    assert calibrated["roc_auc"] == pytest.approx(raw["roc_auc"])  # a monotone map: ranking unchanged


@pytest.mark.parametrize("temperature", [0.5, 2.5])
def test_temperature_scaling_recovers_a_known_temperature(temperature: float) -> None:
    rng = np.random.default_rng(4)
    logits = rng.normal(0.0, 2.0, (30_000, 3))
    probabilities = softmax(logits / temperature)
    labels = (rng.random((len(logits), 1)) > probabilities.cumsum(axis=1)).sum(axis=1)  # sample each row
    inverse = fit_temperature(logits, labels)
    assert 1.0 / inverse == pytest.approx(temperature, rel=0.06)


def test_thresholds_order_and_medium_catches_the_promised_share_of_fraud() -> None:
    logits, labels = platt_world(5_000, seed=5)
    probabilities = sigmoid(2.0 * logits - 1.0)
    thresholds = pick_thresholds(labels, probabilities)
    assert 0.0 < thresholds["medium"] <= thresholds["high"] < 1.0
    caught_at_medium = (probabilities[labels == 1] >= thresholds["medium"]).mean()
    assert caught_at_medium >= MEDIUM_RECALL


def test_high_threshold_maximises_f1_on_the_validation_rows() -> None:
    logits, labels = platt_world(3_000, seed=6)
    probabilities = sigmoid(2.0 * logits - 1.0)
    high = pick_thresholds(labels, probabilities)["high"]
    best = max(f1_at(labels, probabilities, t) for t in np.unique(probabilities))
    assert f1_at(labels, probabilities, high) == pytest.approx(best)


def test_medium_is_capped_at_high_when_f1_peaks_after_the_recall_target() -> None:
    # A perfect ranking: 90% recall is reached one positive before F1 peaks (at 100% recall),
    # so the recall rule alone would put medium above high.
    labels = np.array([1] * 10 + [0] * 10)
    probabilities = np.linspace(0.95, 0.05, len(labels))
    thresholds = pick_thresholds(labels, probabilities)
    assert thresholds["high"] == pytest.approx(probabilities[9])
    assert thresholds["medium"] == thresholds["high"]
    assert (probabilities[labels == 1] >= thresholds["medium"]).mean() >= MEDIUM_RECALL


def test_medium_sits_below_high_when_the_last_frauds_rank_low() -> None:
    labels = np.array([1] * 10 + [0] * 50 + [1] * 10)
    probabilities = np.linspace(0.99, 0.01, len(labels))
    thresholds = pick_thresholds(labels, probabilities)
    assert thresholds["high"] == pytest.approx(probabilities[9])  # F1 peaks after the clean top ten
    needed = int(np.ceil(MEDIUM_RECALL * 20))  # frauds the medium band must catch
    assert thresholds["medium"] == pytest.approx(probabilities[60 + needed - 11])

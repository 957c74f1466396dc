"""Drift statistics on arrays with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from core.monitoring import drift, stats


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=20_000)
    assert stats.psi_numeric(reference, rng.normal(size=20_000)) < 0.01
    assert stats.psi_numeric(reference, rng.normal(1.0, size=20_000)) > 0.25
    assert stats.psi_numeric(np.zeros(100), np.ones(100)) > 1  # constant columns are compared as categories


def test_chi_square_pools_rare_categories_and_js_distance_is_bounded() -> None:
    reference = np.array(["a"] * 500 + ["b"] * 495 + ["rare"] * 5)
    same = np.array(["a"] * 498 + ["b"] * 500 + ["rarer"] * 2)
    assert stats.chi_square_p(reference, same) > 0.05
    assert 0 <= stats.js_distance(reference, np.array(["c"] * 100)) <= 1
    assert stats.js_distance(reference, np.array(["c"] * 100)) == pytest.approx(1.0)


def test_a_domain_classifier_cannot_tell_a_sample_from_itself_but_sees_a_shift() -> None:
    rng = np.random.default_rng(2)
    same_auc, same_p = stats.domain_classifier_auc(rng.normal(size=(300, 8)), rng.normal(size=(300, 8)))
    shifted_auc, shifted_p = stats.domain_classifier_auc(rng.normal(size=(300, 8)), rng.normal(0.5, size=(300, 8)))
    assert same_auc < 0.6 and same_p > 0.001
    assert shifted_auc > 0.8 and shifted_p < 1e-10


def metric(value: float, p: float) -> drift.Metric:
    return drift.Metric("field", "x", "all", "psi+ks", value, 0.1, p, 1000, 1000)


def test_a_verdict_needs_both_a_material_effect_and_significance() -> None:
    t = drift.DriftThresholds(alpha=0.01)
    small_but_certain, large_but_noisy, both = metric(0.05, 1e-12), metric(0.5, 0.2), metric(0.5, 1e-12)
    drift.decide([small_but_certain, large_but_noisy, both], t)
    assert (small_but_certain.drift, large_but_noisy.drift, both.drift) == (False, False, True)
    assert both.details["significance_level"] == pytest.approx(0.01 / 3)


def test_severity_follows_each_metrics_verdict_rule() -> None:
    t = drift.DriftThresholds(alpha=0.01)
    rng = np.random.default_rng(3)
    [unchanged] = drift.text_metric(rng.normal(size=(300, 8)), rng.normal(size=(300, 8)), t)
    [shifted] = drift.text_metric(rng.normal(size=(300, 8)), rng.normal(0.5, size=(300, 8)), t)
    by_wasserstein = drift.Metric(
        "field", "claimed_amount", "all", "psi+ks", 0.05, 0.1, 1e-12, 1000, 1000, {"wasserstein_sd": 0.3}
    )
    at_chance = drift.Metric("text", "narrative_embeddings", "all", "domain_classifier_auc", 0.5, 0.6, 0.5, 300, 300)
    improved = drift.Metric(
        "performance", "roc_auc", "all", "cbpe", -0.2, 0.05, None, 0, 1000, {"beyond_uncertainty": False}
    )
    metrics = drift.decide([unchanged, shifted, by_wasserstein, at_chance, improved], t)
    assert at_chance.severity == 0 and unchanged.severity < 0.5  # AUC counts from chance, not from 0
    assert unchanged.value / unchanged.threshold > 0.75  # what effect / threshold would have shown
    assert shifted.drift and shifted.severity > 1
    assert by_wasserstein.drift and by_wasserstein.severity == pytest.approx(3.0)  # PSI alone would say 0.5
    assert improved.severity == 0 and not improved.drift  # only a drop counts
    assert all(m.severity >= 1 for m in metrics if m.drift)
    assert all(m.to_dict()["severity"] == m.severity for m in metrics)


def test_reports_stored_without_severity_get_it_from_their_thresholds() -> None:
    from core.monitoring.results import _with_severity

    stored = drift.Metric(
        "field", "claimed_amount", "all", "psi+ks", 0.05, 0.1, 1e-12, 1000, 1000, {"wasserstein_sd": 0.3}
    ).to_dict()
    del stored["severity"]
    assert _with_severity(stored, {"wasserstein": 0.2})["severity"] == pytest.approx(1.5)
    assert _with_severity({**stored, "severity": 2.0}, {})["severity"] == 2.0


def test_every_drift_threshold_comes_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.config import get_settings

    assert drift.DriftThresholds.configured() == drift.DriftThresholds()
    monkeypatch.setenv("CLAIMLENS_DRIFT_DOMAIN_AUC", "0.7")
    monkeypatch.setenv("CLAIMLENS_DRIFT_FLAG_RATE_CHANGE", "0.08")
    get_settings.cache_clear()
    try:
        configured = drift.DriftThresholds.configured()
        assert (configured.domain_auc, configured.flag_rate_change, configured.psi) == (0.7, 0.08, 0.1)
    finally:
        get_settings.cache_clear()

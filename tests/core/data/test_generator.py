"""The generator's documented properties: base rate, difficulty, determinism, scenarios."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from core.data.difficulty import Difficulty, measure, structured_features
from core.data.generator import GeneratedData, GeneratorConfig, generate


@pytest.fixture(scope="module")
def baseline_20k() -> GeneratedData:
    return generate(GeneratorConfig(claims=20_000, seed=11, scenario="baseline"))


def test_labelled_fraud_rate_matches_the_configured_base_rate(baseline_20k: GeneratedData) -> None:
    assert baseline_20k.claims["label_fraud"].mean() == pytest.approx(0.08, abs=0.01)
    rate = generate(GeneratorConfig(claims=20_000, seed=3, fraud_rate=0.15)).claims["label_fraud"].mean()
    assert rate == pytest.approx(0.15, abs=0.015)


@pytest.fixture(scope="module")
def difficulty(baseline_20k: GeneratedData) -> Difficulty:
    return measure(baseline_20k)


def test_oracle_is_strong_but_not_perfect(baseline_20k: GeneratedData, difficulty: Difficulty) -> None:
    claims = baseline_20k.claims
    assert 0.85 <= difficulty.oracle_auc <= 0.95
    # Calibrated: the oracle's mean matches the label rate.
    assert claims["oracle_fraud_probability"].mean() == pytest.approx(claims["label_fraud"].mean(), abs=0.01)


def test_structured_fields_and_narrative_each_carry_only_partial_signal(difficulty: Difficulty) -> None:
    assert 0.60 <= difficulty.structured_auc <= 0.85
    assert 0.60 <= difficulty.narrative_auc <= 0.85
    assert difficulty.oracle_auc > max(difficulty.structured_auc, difficulty.narrative_auc) + 0.05


def test_no_single_field_or_keyword_gives_the_label_away(baseline_20k: GeneratedData) -> None:
    claims = baseline_20k.claims
    labels = claims["label_fraud"].to_numpy()
    for column in ("claimed_amount", "prior_claims", "witnesses", "incident_hour"):
        auc = roc_auc_score(labels, claims[column])
        assert max(auc, 1 - auc) < 0.75, column
    counts = TfidfVectorizer(binary=True, use_idf=False, norm=None, min_df=20).fit(claims["narrative"])
    present = counts.transform(claims["narrative"]).toarray() > 0
    for index in range(present.shape[1]):
        auc = roc_auc_score(labels, present[:, index])
        assert max(auc, 1 - auc) < 0.7, counts.get_feature_names_out()[index]


def test_sentiment_is_not_solved_by_a_bag_of_words(baseline_20k: GeneratedData, difficulty: Difficulty) -> None:
    messages = baseline_20k.messages
    assert set(messages["label_sentiment"]) == {"negative", "neutral", "positive"}
    assert messages["label_sentiment"].value_counts(normalize=True).min() > 0.15
    assert 0.6 < difficulty.sentiment_macro_f1 < 0.90


def test_same_seed_same_data_and_other_seed_other_data() -> None:
    first = generate(GeneratorConfig(claims=500, seed=5))
    again = generate(GeneratorConfig(claims=500, seed=5))
    other = generate(GeneratorConfig(claims=500, seed=6))
    pd.testing.assert_frame_equal(first.claims, again.claims)
    pd.testing.assert_frame_equal(first.messages, again.messages)
    assert not first.claims["narrative"].equals(other.claims["narrative"])


def test_narratives_vary_in_wording_and_length(baseline_20k: GeneratedData) -> None:
    narratives = baseline_20k.claims["narrative"]
    assert narratives.nunique() > 0.95 * len(narratives)
    words = narratives.str.split().str.len()
    assert words.min() <= 12 and words.max() >= 45
    assert set(baseline_20k.claims["line_of_business"]) == {"auto", "property", "health", "travel"}


def test_dates_are_in_order_and_inside_the_period(baseline_20k: GeneratedData) -> None:
    claims = baseline_20k.claims
    assert (claims["policy_start_date"] <= claims["incident_date"]).all()
    assert (claims["incident_date"] <= claims["report_date"]).all()
    assert claims["report_date"].min() >= date(2025, 11, 1)
    assert claims["report_date"].max() <= date(2026, 10, 31)
    assert claims["report_date"].is_monotonic_increasing


def _share(claims: pd.DataFrame, mask: pd.Series, before: bool, shift: date) -> float:
    period = claims["report_date"] < shift if before else claims["report_date"] >= shift
    return float(mask[period].mean())


def test_storm_surge_shifts_region_line_amount_and_vocabulary() -> None:
    config = GeneratorConfig(claims=6000, seed=2, scenario="storm_surge")
    claims = generate(config).claims
    shift = config.shift_date
    south_property = (claims["region"] == "south") & (claims["line_of_business"] == "property")
    assert _share(claims, south_property, False, shift) > 2 * _share(claims, south_property, True, shift)
    stormy = claims["narrative"].str.contains("storm|hail|flood", case=False)
    assert _share(claims, stormy, True, shift) < 0.01
    assert _share(claims, stormy, False, shift) > 0.15
    ratio = claims["claimed_amount"] / claims["insured_value"]
    after = (claims["report_date"] >= shift) & south_property
    before = (claims["report_date"] < shift) & south_property
    assert ratio[after].median() > ratio[before].median()


def test_new_fraud_ring_appears_after_the_shift_and_fools_a_model_trained_before() -> None:
    config = GeneratorConfig(claims=12_000, seed=4, scenario="new_fraud_ring")
    claims = generate(config).claims
    shift = config.shift_date
    ring_words = claims["narrative"].str.contains("Apex Auto Body|Meridian Wellness|QuickTow")
    assert _share(claims, ring_words, True, shift) < 0.01
    assert _share(claims, ring_words, False, shift) > 0.02
    before = (claims["report_date"] < shift).to_numpy()
    features = structured_features(claims)
    labels = claims["label_fraud"].to_numpy()
    model = LogisticRegression(max_iter=2000).fit(features[before], labels[before])
    ring_fraud = (~before) & ring_words.to_numpy() & (labels == 1)
    other_fraud = before & (labels == 1)
    scores = model.predict_proba(features)[:, 1]
    # The old model ranks the ring's fraud well below the fraud it was trained on.
    assert np.median(scores[ring_fraud]) < 0.5 * np.median(scores[other_fraud])
    # ...while the oracle, which knows the ring, still ranks it high.
    assert claims["oracle_fraud_probability"][ring_fraud].median() > 0.5


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="scenario"):
        GeneratorConfig(scenario="apocalypse")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="end date"):
        GeneratorConfig(start=date(2026, 1, 1), end=date(2025, 1, 1))

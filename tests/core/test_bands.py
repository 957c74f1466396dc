"""The band rule: a probability against the thresholds stored with the model version."""

from __future__ import annotations

from core import bands


def test_a_probability_is_banded_by_the_stored_thresholds_and_nothing_is_flagged_without_them() -> None:
    thresholds = {"high": 0.7, "medium": 0.4}
    assert [bands.band_for(p, thresholds) for p in (0.1, 0.4, 0.69, 0.7, 0.99)] == [
        "low", "medium", "medium", "high", "high"
    ]  # fmt: skip
    assert bands.band_for(0.5, {}) == "low"  # no thresholds stored: nothing is flagged

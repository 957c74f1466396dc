"""Risk bands: the one rule from a calibrated fraud probability to `high`, `medium` or
`low`, and the thresholds it reads.

The thresholds are fitted at training (`training.calibration.pick_thresholds`: `high`
maximises F1 on the validation claims, `medium` reaches a recall target) and stored once,
with the registered version (`ModelVersion.parameters["thresholds"]`). A threshold that is
missing counts as `MISSING` (1.0): a version without thresholds flags nothing, rather
than flagging by a guess.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any


class Band(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


FLAGGED = (Band.HIGH, Band.MEDIUM)  # the bands the triage queue shows first
MISSING = 1.0  # a missing threshold: no probability below 1 reaches it


def band_for(probability: float, thresholds: Mapping[str, float]) -> Band:
    if probability >= thresholds.get(Band.HIGH, MISSING):
        return Band.HIGH
    if probability >= thresholds.get(Band.MEDIUM, MISSING):
        return Band.MEDIUM
    return Band.LOW


def flag_threshold(thresholds: Mapping[str, float]) -> float:
    """The lowest probability `band_for` puts in a flagged band."""
    return float(min(thresholds.get(Band.HIGH, MISSING), thresholds.get(Band.MEDIUM, MISSING)))


def decision_threshold(thresholds: Mapping[str, float]) -> float:
    """The probability at which a claim counts as predicted fraud in F1, precision and
    recall: the `high` band's threshold."""
    return float(thresholds.get(Band.HIGH, MISSING))


def stored(parameters: Mapping[str, Any] | None) -> dict[str, float]:
    """A registered version's thresholds, from its `parameters`."""
    return dict((parameters or {}).get("thresholds") or {})

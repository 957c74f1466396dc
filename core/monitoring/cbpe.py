"""Confidence-based performance estimation (CBPE, as in NannyML): the ROC-AUC, precision
and recall a window of claims is expected to have, from the champion's probabilities and
no labels, with the spread of each over labels drawn from those probabilities and an
interval clipped to [0, 1].

The probabilities are first recalibrated on labelled claims the champion did not learn
from (its training run's test split), as NannyML calibrates on its reference data: an
isotonic map from the champion's probability to the fraud rate observed there. Claims are
still ranked by the champion's own probability; only the expected labels come from the
calibrated ones. Without enough labelled reference claims the champion's own (Platt-
calibrated) probabilities are used, and the estimate says so.

What the estimate assumes: calibration holds in the window, i.e. among claims with a given
score the fraud rate is what it was on the reference (no concept drift). It follows
covariate shift (claims moving to scores where the champion ranks better or worse), but it
cannot see claims that score high for reasons that are not fraud (a storm's late, large
claims) or fraud that looks new: there it stays up while the realized ROC-AUC falls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.monitoring.stats import realized_auc

MIN_REFERENCE_ROWS = 100
MIN_REFERENCE_CLASS = 10  # positives and negatives each, for an isotonic fit worth having
INTERVAL_SDS = 2.0
DRAWS = 200
DRAW_SAMPLE = 5_000  # rows per draw; a larger window's spread is scaled from a subsample


@dataclass(frozen=True)
class Calibration:
    """Isotonic map from probability to fraud rate (empty: the identity)."""

    thresholds: tuple[float, ...]
    rates: tuple[float, ...]
    reference_n: int
    reference_positives: int
    source: str

    def __call__(self, probabilities: np.ndarray) -> np.ndarray:
        if not self.thresholds:
            return probabilities
        return np.interp(probabilities, self.thresholds, self.rates)

    @property
    def fitted(self) -> bool:
        return bool(self.thresholds)


def fit_calibration(probabilities: np.ndarray, labels: np.ndarray, source: str) -> Calibration:
    """Isotonic calibration on labelled reference claims; the identity when they are too
    few (`MIN_REFERENCE_ROWS`, `MIN_REFERENCE_CLASS` of each class), `source` then says why."""
    from sklearn.isotonic import IsotonicRegression

    labels = np.asarray(labels, dtype=bool)
    positives = int(labels.sum())
    if len(labels) < MIN_REFERENCE_ROWS or min(positives, len(labels) - positives) < MIN_REFERENCE_CLASS:
        why = f"{len(labels)} labelled reference claims, {positives} fraud: too few to recalibrate"
        return Calibration((), (), len(labels), positives, f"the champion's own probabilities ({why})")
    fit = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(probabilities, labels.astype(float))
    return Calibration(
        tuple(float(x) for x in fit.X_thresholds_),
        tuple(float(y) for y in fit.y_thresholds_),
        len(labels),
        positives,
        source,
    )


IDENTITY = Calibration((), (), 0, 0, "the champion's own probabilities (no labelled reference claims)")


@dataclass(frozen=True)
class Estimate:
    roc_auc: float
    roc_auc_std: float
    roc_auc_lower: float  # estimate - 2 sd, clipped to [0, 1]
    roc_auc_upper: float  # estimate + 2 sd, clipped to [0, 1]
    precision: float
    recall: float
    precision_std: float
    recall_std: float
    expected_fraud_rate: float  # mean calibrated probability


def expected_auc(scores: np.ndarray, probabilities: np.ndarray) -> float:
    """ROC-AUC expected when row i is fraud with probability p_i and rows are ranked by
    `scores`: sum over pairs i != j of p_i (1 - p_j) [s_i > s_j] (ties counted half),
    divided by the expected number of fraud/non-fraud pairs, sum over i != j of p_i (1 - p_j)."""
    order = np.argsort(scores, kind="stable")
    s, p = scores[order], probabilities[order]
    # Non-fraud mass strictly below each score, plus half of the rest of its tie group.
    _, start, counts = np.unique(s, return_index=True, return_counts=True)
    group_mass = np.add.reduceat(1 - p, start)
    below = np.repeat(np.cumsum(group_mass) - group_mass, counts) + (np.repeat(group_mass, counts) - (1 - p)) / 2
    pairs = p.sum() * (1 - p).sum() - np.sum(p * (1 - p))
    if pairs <= 0:
        return float("nan")
    return float(np.sum(p * below) / pairs)


def estimated_auc(scores: np.ndarray, calibration: Calibration) -> float:
    """The expected ROC-AUC of claims with these scores under `calibration`: `estimate`'s
    ROC-AUC without the draws for its spread."""
    scores = np.asarray(scores, dtype=float)
    return expected_auc(scores, np.clip(calibration(scores), 0.0, 1.0))


def estimate(
    scores: np.ndarray, calibration: Calibration, threshold: float, draws: int = DRAWS, seed: int = 0
) -> Estimate:
    """The window's expected ROC-AUC, and precision and recall at `threshold` (on the
    champion's score), under `calibration`. Each spread is the standard deviation of the
    realized metric over `draws` label sets drawn from the calibrated probabilities."""
    scores = np.asarray(scores, dtype=float)
    probabilities = np.clip(calibration(scores), 0.0, 1.0)
    flagged = scores >= threshold
    tp, fp = probabilities[flagged].sum(), (1 - probabilities[flagged]).sum()
    fn = probabilities[~flagged].sum()
    rng = np.random.default_rng(seed)
    rows = np.arange(len(scores)) if len(scores) <= DRAW_SAMPLE else rng.choice(len(scores), DRAW_SAMPLE, replace=False)
    sample_scores, sample_p = scores[rows], probabilities[rows]
    aucs, precisions, recalls = [], [], []
    for _ in range(draws):
        labels = rng.random(len(rows)) < sample_p
        if 0 < labels.sum() < len(labels):
            aucs.append(realized_auc(sample_scores, labels))
        hits = sample_scores >= threshold
        precisions.append(labels[hits].mean() if hits.any() else np.nan)
        recalls.append(labels[hits].sum() / labels.sum() if labels.any() else np.nan)
    scale = np.sqrt(len(rows) / len(scores))  # a subsample's spread, scaled to the full window
    auc = expected_auc(scores, probabilities)
    std = float(np.nanstd(aucs) * scale) if aucs else float("nan")
    lower, upper = interval(auc, std)
    return Estimate(
        roc_auc=auc,
        roc_auc_std=std,
        roc_auc_lower=lower,
        roc_auc_upper=upper,
        precision=float(tp / (tp + fp)) if tp + fp > 0 else float("nan"),
        recall=float(tp / (tp + fn)) if tp + fn > 0 else float("nan"),
        precision_std=float(np.nanstd(precisions) * scale),
        recall_std=float(np.nanstd(recalls) * scale),
        expected_fraud_rate=float(probabilities.mean()) if len(probabilities) else float("nan"),
    )


def interval(value: float, std: float, sds: float = INTERVAL_SDS) -> tuple[float, float]:
    """value ± sds standard deviations, clipped to [0, 1] (a ROC-AUC's range); NaN when
    either is not finite."""
    if not (np.isfinite(value) and np.isfinite(std)):
        return float("nan"), float("nan")
    return float(np.clip(value - sds * std, 0.0, 1.0)), float(np.clip(value + sds * std, 0.0, 1.0))

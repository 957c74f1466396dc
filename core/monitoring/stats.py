"""Distribution-shift statistics on plain arrays: PSI, Kolmogorov–Smirnov, Wasserstein,
Jensen–Shannon, chi-square, two-proportion tests, a domain classifier's AUC and the
realized ROC-AUC. Each returns numbers only; verdicts live in `core.monitoring.drift`,
which owns the thresholds (performance estimation is `core.monitoring.cbpe`).
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.spatial.distance import jensenshannon

PSI_BINS = 10
PSI_EPSILON = 1e-4  # floor for empty bins, so PSI stays finite


def psi_numeric(reference: np.ndarray, current: np.ndarray, bins: int = PSI_BINS) -> float:
    """Population stability index over the reference's quantile bins."""
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    if len(edges) < 3:  # (nearly) constant reference: compare the values as categories
        return psi_categorical(reference.astype(str), current.astype(str))
    edges[0], edges[-1] = -np.inf, np.inf
    ref = np.histogram(reference, edges)[0] / len(reference)
    cur = np.histogram(current, edges)[0] / len(current)
    return _psi(ref, cur)


def _psi(ref: np.ndarray, cur: np.ndarray) -> float:
    ref, cur = np.maximum(ref, PSI_EPSILON), np.maximum(cur, PSI_EPSILON)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def category_shares(reference: np.ndarray, current: np.ndarray) -> tuple[list[str], np.ndarray, np.ndarray]:
    categories = sorted(set(reference.tolist()) | set(current.tolist()))
    ref = np.array([np.sum(reference == c) for c in categories], dtype=float)
    cur = np.array([np.sum(current == c) for c in categories], dtype=float)
    return categories, ref, cur


def psi_categorical(reference: np.ndarray, current: np.ndarray) -> float:
    _, ref, cur = category_shares(reference, current)
    return _psi(ref / ref.sum(), cur / cur.sum())


def js_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Jensen–Shannon distance (base 2, in [0, 1]) between the category shares."""
    _, ref, cur = category_shares(reference, current)
    return float(jensenshannon(ref / ref.sum(), cur / cur.sum(), base=2))


def chi_square_p(reference: np.ndarray, current: np.ndarray) -> float:
    """Chi-square test of homogeneity; categories too rare for the test are pooled."""
    _, ref, cur = category_shares(reference, current)
    table = np.vstack([ref, cur])
    expected = table.sum(axis=0) * table.sum(axis=1, keepdims=True) / table.sum()
    rare = expected.min(axis=0) < 5
    if rare.any():
        table = np.column_stack([table[:, ~rare], table[:, rare].sum(axis=1)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0
    return float(stats.chi2_contingency(table)[1])


def ks_p(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    result = stats.ks_2samp(reference, current)
    return float(result.statistic), float(result.pvalue)


def wasserstein_scaled(reference: np.ndarray, current: np.ndarray) -> float:
    """Wasserstein distance in units of the reference's standard deviation."""
    scale = float(np.std(reference)) or 1.0
    return float(stats.wasserstein_distance(reference, current) / scale)


def two_proportions(ref_hits: int, ref_n: int, cur_hits: int, cur_n: int) -> tuple[float, float]:
    """Difference of proportions (current - reference) and its two-sided z-test p-value."""
    p1, p2 = ref_hits / ref_n, cur_hits / cur_n
    pooled = (ref_hits + cur_hits) / (ref_n + cur_n)
    se = np.sqrt(pooled * (1 - pooled) * (1 / ref_n + 1 / cur_n))
    if se == 0:
        return p2 - p1, 1.0
    return p2 - p1, float(2 * stats.norm.sf(abs(p2 - p1) / se))


def domain_classifier_auc(reference: np.ndarray, current: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """How well a logistic regression tells current from reference rows (cross-validated
    ROC-AUC: 0.5 = indistinguishable), and the Mann–Whitney p-value of that AUC."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    features = np.vstack([reference, current])
    labels = np.r_[np.zeros(len(reference)), np.ones(len(current))]
    folds = min(5, len(reference), len(current))
    model = LogisticRegression(C=1.0, max_iter=500)
    scores = cross_val_predict(model, features, labels, cv=folds, method="decision_function")
    test = stats.mannwhitneyu(scores[labels == 1], scores[labels == 0], alternative="greater")
    auc = float(test.statistic / (len(current) * len(reference)))
    return auc, float(test.pvalue)


def realized_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    positives, negatives = scores[labels], scores[~labels]
    if not len(positives) or not len(negatives):
        return float("nan")
    ranks = stats.rankdata(np.r_[positives, negatives])
    return float((ranks[: len(positives)].sum() - len(positives) * (len(positives) + 1) / 2)
                 / (len(positives) * len(negatives)))  # fmt: skip

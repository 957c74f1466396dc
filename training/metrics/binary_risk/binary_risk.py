"""Claim-risk metrics as an `evaluate` module loaded from this folder (no hub access).

ROC-AUC, PR-AUC (average precision), precision/recall/F1 at the operating threshold,
Brier score and expected calibration error (equal-width bins).
"""

import datasets
import evaluate
import numpy as np
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

_DESCRIPTION = "Discrimination, operating-point and calibration metrics for a binary risk score."
_KWARGS = """
Args:
    predictions: probabilities of the positive class.
    references: 0/1 labels.
    threshold: operating threshold for precision/recall/F1 (default 0.5).
    bins: number of equal-width bins for the expected calibration error (default 10).
"""


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int) -> float:
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        in_bin = which == b
        if in_bin.any():
            error += in_bin.mean() * abs(probabilities[in_bin].mean() - labels[in_bin].mean())
    return float(error)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class BinaryRisk(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {"predictions": datasets.Value("float64"), "references": datasets.Value("int32")}
            ),
        )

    def _compute(self, predictions, references, threshold=0.5, bins=10):
        probabilities = np.asarray(predictions, dtype=float)
        labels = np.asarray(references, dtype=int)
        predicted = (probabilities >= threshold).astype(int)
        both_classes = len(np.unique(labels)) == 2
        return {
            "roc_auc": float(roc_auc_score(labels, probabilities)) if both_classes else float("nan"),
            "pr_auc": float(average_precision_score(labels, probabilities)) if both_classes else float("nan"),
            "precision": float(precision_score(labels, predicted, zero_division=0)),
            "recall": float(recall_score(labels, predicted, zero_division=0)),
            "f1": float(f1_score(labels, predicted, zero_division=0)),
            "brier": float(brier_score_loss(labels, probabilities)),
            "ece": expected_calibration_error(labels, probabilities, bins),
            "threshold": float(threshold),
            "positives": int(labels.sum()),
            "count": len(labels),
        }

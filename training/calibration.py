"""Probability calibration and operating thresholds, fitted on validation data.

Monitoring estimates performance from the probabilities, so they must mean what they
say: Platt scaling (scale and bias on the logit) for the claim model, whose training
loss up-weights the rare fraud class; temperature scaling for sentiment.
"""

from __future__ import annotations

import numpy as np
import torch

# Band thresholds: `high` maximises F1 on validation claims; `medium` is the lower
# probability at which MEDIUM_RECALL of validation fraud is caught (bounded by `high`).
MEDIUM_RECALL = 0.7


def fit_platt(logits: np.ndarray, labels: np.ndarray, steps: int = 200) -> tuple[float, float]:
    x = torch.tensor(logits, dtype=torch.float64)
    y = torch.tensor(labels, dtype=torch.float64)
    scale = torch.ones(1, dtype=torch.float64, requires_grad=True)
    bias = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([scale, bias], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x * scale + bias, y)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(scale.detach()), float(bias.detach())


def fit_temperature(logits: np.ndarray, labels: np.ndarray, steps: int = 200) -> float:
    """Returns 1 / temperature (multiplying logits by it calibrates them)."""
    x = torch.tensor(logits, dtype=torch.float64)
    y = torch.tensor(labels, dtype=torch.long)
    log_inverse = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_inverse], lr=0.5, max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(x * log_inverse.exp(), y)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_inverse.detach().exp())


def pick_thresholds(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    order = np.argsort(-probabilities)
    sorted_p, sorted_y = probabilities[order], labels[order]
    true_positives = np.cumsum(sorted_y)
    positives = max(int(labels.sum()), 1)
    precision = true_positives / np.arange(1, len(labels) + 1)
    recall = true_positives / positives
    f1 = np.where(precision + recall > 0, 2 * precision * recall / np.maximum(precision + recall, 1e-12), 0)
    high = float(sorted_p[int(np.argmax(f1))])
    reach = np.nonzero(recall >= MEDIUM_RECALL)[0]
    medium = float(sorted_p[reach[0]]) if len(reach) else float(sorted_p[-1])
    return {"high": high, "medium": min(medium, high)}

"""Honest evaluation: the model, logistic-regression baselines (on the claim's fields, on
TF-IDF of its text, on both) and (for claims) the generator's oracle, all on the same
held-out test rows, through the project's own `evaluate` metric modules (loaded from
local folders; nothing is fetched from a hub).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import evaluate
import numpy as np
from scipy.sparse import csr_matrix, hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from core import bands
from core.modeling.features import FieldSpec
from core.tasks import Task
from training.splits import Splits
from training.tasks import sentiment_targets, texts_of

METRICS_DIR = Path(__file__).parent / "metrics"


@cache
def metric(name: str) -> evaluate.EvaluationModule:
    return evaluate.load(str(METRICS_DIR / name))


def claim_metrics(labels: np.ndarray, probabilities: np.ndarray, threshold: float) -> dict[str, float]:
    return metric("binary_risk").compute(predictions=probabilities, references=labels, threshold=threshold)


def sentiment_metrics(labels: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return metric("multiclass").compute(predictions=predicted, references=labels)


def tfidf_baseline(splits: Splits, task: str, with_fields: bool = False) -> np.ndarray:
    """Test-row scores of a TF-IDF logistic regression (optionally with the encoded claim fields)."""
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=50_000, sublinear_tf=True)
    train_text = vectorizer.fit_transform(texts_of(splits.train, task))
    test_text = vectorizer.transform(texts_of(splits.test, task))
    if task == Task.CLAIM_RISK and not with_fields:
        model = LogisticRegression(max_iter=3000, C=1.0).fit(train_text, splits.train["label"])
        return model.predict_proba(test_text)[:, 1]
    if task == Task.CLAIM_RISK:
        spec = FieldSpec.fit(splits.train)
        train_x = hstack([train_text, csr_matrix(spec.encode(splits.train))]).tocsr()
        test_x = hstack([test_text, csr_matrix(spec.encode(splits.test))]).tocsr()
        model = LogisticRegression(max_iter=3000, C=1.0).fit(train_x, splits.train["label"])
        return model.predict_proba(test_x)[:, 1]
    model = LogisticRegression(max_iter=3000, C=10.0).fit(train_text, sentiment_targets(splits.train))
    return model.predict_proba(test_text)


def fields_baseline(splits: Splits) -> np.ndarray:
    """Test-row scores of a logistic regression on the schema's fields alone, encoded as
    the model encodes them (the baseline every claim model must beat, text or none)."""
    spec = FieldSpec.fit(splits.train)
    model = LogisticRegression(max_iter=3000, C=1.0).fit(spec.encode(splits.train), splits.train["label"])
    return model.predict_proba(spec.encode(splits.test))[:, 1]


def _has_words(splits: Splits) -> bool:
    """Whether the claims have text a TF-IDF baseline can learn from (a schema may declare none)."""
    return any(text.strip() for text in texts_of(splits.train, Task.CLAIM_RISK))


def evaluate_claims(splits: Splits, probabilities: np.ndarray, thresholds: dict[str, float]) -> dict[str, Any]:
    labels = splits.test["label"].to_numpy()
    report: dict[str, Any] = {"model": claim_metrics(labels, probabilities, bands.decision_threshold(thresholds))}
    # The baselines read what the model reads: the text and the fields, or (a schema without
    # text) the fields alone. The gate holds the model to the strongest.
    if _has_words(splits):
        report["baseline_tfidf_lr"] = claim_metrics(labels, tfidf_baseline(splits, Task.CLAIM_RISK), 0.5)
        report["baseline_tfidf_fields_lr"] = claim_metrics(
            labels, tfidf_baseline(splits, Task.CLAIM_RISK, with_fields=True), 0.5
        )
    else:
        report["baseline_fields_lr"] = claim_metrics(labels, fields_baseline(splits), 0.5)
    oracle = splits.test.get("oracle_probability")
    if oracle is not None and oracle.notna().all():
        report["oracle"] = claim_metrics(labels, oracle.to_numpy(dtype=float), 0.5)
    report["label_sources"] = (
        splits.test["label_source"].value_counts().to_dict() if "label_source" in splits.test else {}
    )
    return report


def evaluate_sentiment(splits: Splits, probabilities: np.ndarray) -> dict[str, Any]:
    labels = sentiment_targets(splits.test)
    baseline = tfidf_baseline(splits, Task.SENTIMENT)
    return {
        "model": sentiment_metrics(labels, probabilities.argmax(axis=1)),
        "baseline_tfidf_lr": sentiment_metrics(labels, baseline.argmax(axis=1)),
    }


def summary_metrics(task: str, report: dict[str, Any]) -> dict[str, float]:
    """The headline numbers kept on the model version row."""
    model = report["model"]
    if task == Task.CLAIM_RISK:
        keys = ("roc_auc", "pr_auc", "f1", "recall", "brier", "ece")
        return {k: float(model[k]) for k in keys}
    return {k: float(model[k]) for k in ("accuracy", "macro_f1")}

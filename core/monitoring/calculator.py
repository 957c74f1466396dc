"""One window's drift metrics against the reference: fields, predictions and estimated
performance for the whole book and each segment, narratives (embeddings and changed
words) and claimant sentiment, with verdicts (`core.monitoring.drift`). Reads nothing from
the database and writes nothing; the text check is sampled hardest (`TEXT_SAMPLE`), the one
test that grows faster than linearly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from core import bands, claim_store
from core.config import get_settings
from core.monitoring import drift
from core.redaction import redact
from db.models import (
    ModelVersion,
)

if TYPE_CHECKING:
    from core.modeling.models import LoadedModel


TEXT_SAMPLE = 300  # narratives per side for the embedding check (the costly part)


TERMS_SAMPLE = 5_000


def _segments(
    reference: pd.DataFrame, current: pd.DataFrame, min_rows: int
) -> list[tuple[str, pd.DataFrame, pd.DataFrame]]:
    segments = [("all", reference, current)]
    for column in drift.segment_columns():
        for value in sorted(set(current[column].dropna())):  # a claim without a value is in no segment
            ref, cur = reference[reference[column] == value], current[current[column] == value]
            if min(len(ref), len(cur)) >= min_rows:
                segments.append((f"{column}={value}", ref, cur))
    return segments


class Embedder:
    """Loads the champion once per drift run and embeds narrative samples."""

    def __init__(self, version: ModelVersion) -> None:
        self.version = version
        self._loaded: LoadedModel | None = None

    def __call__(self, texts: list[str]) -> np.ndarray:
        from core.modeling.inference import text_embeddings
        from core.serving import load_version

        if self._loaded is None:
            self._loaded = load_version(self.version, get_settings().resolved_device())
        return text_embeddings(self._loaded, texts)


def sample_texts(values: pd.Series, n: int, seed: int) -> list[str]:
    return values.sample(min(n, len(values)), random_state=seed).fillna("").astype(str).tolist()


def narratives(frame: pd.DataFrame, n: int, seed: int) -> list[str]:
    """A sample of narratives without personal data (`core.redaction.redact`, with each
    claim's own name and contact): the changed words a report stores are shown to every
    role that sees monitoring, and a claimant's name repeated in three narratives is a word."""
    sample = frame.sample(min(n, len(frame)), random_state=seed)
    personal = sample[list(claim_store.personal())].fillna("").astype(str)
    return [
        redact(text, personal=values)
        for text, *values in zip(claim_store.texts(sample), *(personal[c] for c in personal.columns), strict=True)
    ]


def compute_window(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    reference_sentiment: pd.Series,
    current_sentiment: pd.Series,
    version: ModelVersion,
    embed: Any,
    reference_embeddings: np.ndarray | None,
    t: drift.DriftThresholds,
    baseline: drift.PerformanceBaseline = drift.NO_BASELINE,
) -> tuple[list[drift.Metric], list[dict[str, Any]]]:
    """Every metric of one window against the reference, with verdicts; the estimated
    ROC-AUC against `baseline` (without one, it has no verdict)."""
    metrics: list[drift.Metric] = []
    threshold = bands.flag_threshold(bands.stored(version.parameters))
    for segment, ref, cur in _segments(reference, current, t.min_rows):
        metrics += drift.field_metrics(ref, cur, segment, t)
        metrics += drift.prediction_metrics(ref, cur, segment, t)
        metrics += drift.performance_metric(cur, baseline, threshold, segment, t)
    if reference_embeddings is not None and len(current) >= t.min_rows:
        metrics += drift.text_metric(
            reference_embeddings, embed(sample_texts(claim_store.texts(current), TEXT_SAMPLE, 1)), t
        )
    metrics += drift.sentiment_metric(reference_sentiment, current_sentiment, t)
    terms: list[dict[str, Any]] = []
    if claim_store.text_columns():
        terms = drift.changed_terms(narratives(reference, TERMS_SAMPLE, 2), narratives(current, TERMS_SAMPLE, 3))
        metrics += drift.term_metric(terms, t)
    return drift.decide(metrics, t), terms

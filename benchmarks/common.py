"""Generated data shaped like the training frames, for benchmarks that run without a database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pandas as pd

from core.config import get_settings
from core.data.generator import GeneratorConfig, generate


def training_frames(claims: int, seed: int = 11, scenario: str = "baseline") -> tuple[pd.DataFrame, pd.DataFrame]:
    data = generate(GeneratorConfig(claims=claims, seed=seed, scenario=scenario))  # type: ignore[arg-type]
    frame = data.claims.copy()
    frame["claim_id"] = range(1, len(frame) + 1)
    frame["is_fraud"] = frame["label_fraud"].astype(bool)
    frame["oracle_probability"] = frame["oracle_fraud_probability"]
    frame["label"] = frame["label_fraud"].astype(int)
    frame["label_source"] = "ground_truth"
    messages = data.messages.sort_values("sent_at", kind="stable").reset_index(drop=True)
    messages = messages.rename(columns={"label_sentiment": "true_sentiment"})
    messages["message_id"] = range(1, len(messages) + 1)
    return frame, messages


PRECISION_ENV = "CLAIMLENS_INFERENCE_PRECISION"


@contextmanager
def at_precision(precision: str) -> Iterator[None]:
    """Run the block with `CLAIMLENS_INFERENCE_PRECISION` set, then restore it."""
    previous = os.environ.get(PRECISION_ENV)
    os.environ[PRECISION_ENV] = precision
    get_settings.cache_clear()
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(PRECISION_ENV, None)
        else:
            os.environ[PRECISION_ENV] = previous
        get_settings.cache_clear()

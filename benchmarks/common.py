"""Generated data shaped like the training frames, for benchmarks that run without a database."""

from __future__ import annotations

import pandas as pd

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

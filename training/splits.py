"""Time-ordered train / validation / test splits (no database: shared with benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from core.errors import InvalidInput
from core.run_spec import TrainingConfig

MIN_ROWS_PER_SPLIT = 5


@dataclass
class Splits:
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame

    def manifest(self, id_column: str) -> dict[str, list[int]]:
        """Which rows each split used, so a run can say exactly what it learned from."""
        return {name: [int(i) for i in getattr(self, name)[id_column]] for name in ("train", "validation", "test")}


def time_split(frame: pd.DataFrame, config: TrainingConfig) -> Splits:
    """Rows must already be in time order; the newest rows are the test set."""
    n = len(frame)
    n_test = round(n * config.test_share)
    n_validation = round(n * config.validation_share)
    n_train = n - n_test - n_validation
    if min(n_train, n_validation, n_test) < MIN_ROWS_PER_SPLIT:
        raise InvalidInput(f"only {n} labelled rows: too few to train, validate and test")
    train = frame.iloc[:n_train]
    if config.max_train_samples and len(train) > config.max_train_samples:
        train = train.iloc[-config.max_train_samples :]  # keep the most recent history
    return Splits(
        train=train.reset_index(drop=True),
        validation=frame.iloc[n_train : n_train + n_validation].reset_index(drop=True),
        test=frame.iloc[n_train + n_validation :].reset_index(drop=True),
    )

"""Helpers shared by the benchmarks: generated data shaped like the training frames (for
benchmarks that run without a database), scratch PostgreSQL databases, percentiles."""

from __future__ import annotations

import os
import statistics
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Literal

import pandas as pd
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from core.config import get_settings
from core.data.generator import GeneratorConfig, generate
from db.session import engine_for


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


@contextmanager
def scratch_postgres(server_url: str, name_prefix: str, *, reuse: bool = False, keep: bool = False) -> Iterator[str]:
    """The URL of a throwaway database on the server `server_url` names; dropped afterwards.

    The database is `name_prefix` plus a random suffix, created fresh. With `reuse` it is
    named `name_prefix` exactly and created only when missing, so a database an earlier run
    kept is used again; with `keep` it is left in place afterwards.
    """
    name = name_prefix if reuse else f"{name_prefix}{uuid.uuid4().hex[:8]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        with admin.connect() as connection:
            existing = text("SELECT 1 FROM pg_database WHERE datname = :name")
            if not (reuse and connection.execute(existing, {"name": name}).first() is not None):
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield url
        finally:
            engine_for(url).dispose()
            if not keep:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def p95(values: Sequence[float], method: Literal["exclusive", "inclusive"] = "inclusive") -> float:
    """The 95th percentile of `values` (`statistics.quantiles`, `method`); the value itself when there is one."""
    return statistics.quantiles(values, n=20, method=method)[-1] if len(values) > 1 else values[0]

"""Demo and test data: generate a scenario and load it through the import path."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from core.auth import Actor
from core.data import importing
from core.data.generator import GeneratorConfig, generate
from core.errors import InvalidInput


def generate_import_frame(config: GeneratorConfig) -> pd.DataFrame:
    data = generate(config)
    return importing.to_import_frame(data.claims, data.messages)


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix in (".parquet", ".pq"):
        frame.to_parquet(path, index=False)
    elif suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        raise InvalidInput(f"{path}: output must end in .csv or .parquet")


def seed(session: Session, *, actor: Actor, config: GeneratorConfig) -> importing.ImportResult:
    """Load a generated scenario; claim numbers derive from the seed, so re-seeding adds nothing."""
    frame = generate_import_frame(config)
    source = f"seed:{config.scenario}:{config.seed}"
    result, _ = importing.import_claims(session, actor=actor, frame=frame, source=source)
    return result

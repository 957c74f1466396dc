"""Demo and test data: generate a scenario and load it through the import path, and the
demo's calendar: a year of claims ending on the day it is seeded, so ages and SLAs read
like a live book (the generator itself stays deterministic given a seed and its dates)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from core import clock
from core.auth import Actor, Permission, require
from core.data import importing
from core.data.generator import GeneratorConfig, generate
from core.errors import InvalidInput

DEMO_DAYS = 364  # the demo's period: the 52 weeks up to the day it is seeded


def demo_calendar(today: date | None = None) -> tuple[date, date]:
    """The demo's first and last report dates: the year ending `today` (by default the
    current UTC date)."""
    end = today or clock.now().date()
    return end - timedelta(days=DEMO_DAYS), end


def demo_train_until(today: date | None = None) -> date:
    """The last report date before the scenario's shift (the storm) in the demo seeded
    `today` with the generator's default `shift_at`: what the demo champions train up to."""
    start, end = demo_calendar(today)
    return GeneratorConfig(start=start, end=end).shift_date - timedelta(days=1)


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
    require(actor, Permission.IMPORT_CLAIMS)  # before the costly generation
    frame = generate_import_frame(config)
    source = f"seed:{config.scenario}:{config.seed}"
    result, _ = importing.import_claims(session, actor=actor, frame=frame, source=source)
    return result

"""The demo's calendar: a year of claims ending on the day it is seeded (ages and SLAs
read like a live book), the storm and the champions' training window consistent with it,
and the generator still deterministic given a seed and its dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from core.data.generator import GeneratorConfig, generate
from core.data.seeding import DEMO_DAYS, demo_calendar, demo_train_until
from service.cli import app

TODAY = date(2026, 12, 3)


def test_the_demo_year_ends_on_the_day_it_is_seeded() -> None:
    assert demo_calendar(TODAY) == (TODAY - timedelta(days=DEMO_DAYS), TODAY)
    assert demo_calendar()[1] == datetime.now(UTC).date()


def test_the_champions_train_up_to_the_day_before_the_storm() -> None:
    start, end = demo_calendar(TODAY)
    config = GeneratorConfig(claims=3000, seed=7, scenario="storm_surge", start=start, end=end)
    until = demo_train_until(TODAY)
    assert until == config.shift_date - timedelta(days=1)
    claims = generate(config).claims
    storm = claims[claims["narrative"].str.contains("storm|hail|roof|flood", case=False)]
    reported = pd.to_datetime(claims["report_date"]).dt.date
    assert reported.max() <= TODAY and reported.min() >= start
    assert (reported > TODAY - timedelta(days=14)).sum() > 50, "recent claims: a live book, not a year-old one"
    storm_region = claims[(claims["region"] == "south") & (claims["line_of_business"] == "property")]
    before = pd.to_datetime(storm_region["report_date"]).dt.date <= until
    assert before.mean() < 0.5 and len(storm) > 0, "the storm's surge comes after the training window"


def test_same_seed_and_dates_same_claims() -> None:
    start, end = demo_calendar(TODAY)
    first = generate(GeneratorConfig(claims=200, seed=3, start=start, end=end)).claims
    again = generate(GeneratorConfig(claims=200, seed=3, start=start, end=end)).claims
    pd.testing.assert_frame_equal(first, again)


def test_generate_without_dates_writes_the_year_ending_today(tmp_path: Path) -> None:
    out = tmp_path / "claims.csv"
    result = CliRunner().invoke(app, ["generate", "--claims", "300", "--out", str(out)])
    assert result.exit_code == 0, result.output
    reported = pd.to_datetime(pd.read_csv(out)["report_date"]).dt.date
    first, last = demo_calendar()
    assert first <= reported.min() and reported.max() <= last and reported.max() >= last - timedelta(days=14)


def test_a_live_book_holds_recent_open_claims_and_settled_history_with_outcomes() -> None:
    start, end = demo_calendar(TODAY)
    plain = generate(GeneratorConfig(claims=4000, seed=7, start=start, end=end))
    live = generate(GeneratorConfig(claims=4000, seed=7, start=start, end=end, live_book=True))
    columns = [c for c in plain.claims.columns if c != "label_fraud"]
    pd.testing.assert_frame_equal(plain.claims[columns], live.claims[columns])  # the same claims, settled or not
    open_claims = live.claims[~live.claims["closed"]]
    age = (pd.Timestamp(TODAY) - pd.to_datetime(open_claims["report_date"])).dt.days
    assert 0.005 < len(open_claims) / len(live.claims) < 0.05, "a department has settled most of its year"
    assert (age <= 5).mean() > 0.5, "most open claims are within the triage SLA"
    assert open_claims["label_fraud"].isna().all(), "an open claim has no outcome yet"
    settled = live.claims[live.claims["closed"]]
    assert settled["label_fraud"].notna().all()
    assert (settled["label_fraud"] == plain.claims.loc[settled.index, "label_fraud"]).all()


def test_no_message_is_dated_on_or_after_the_day_the_book_is_read() -> None:
    start, end = demo_calendar(TODAY)
    messages = generate(GeneratorConfig(claims=2000, seed=7, start=start, end=end)).messages
    assert pd.to_datetime(messages["sent_at"]).max() < pd.Timestamp(TODAY)

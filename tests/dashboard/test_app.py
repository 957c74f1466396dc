"""The app renders stored data through core/ (AppTest, no browser)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from core.auth import cli_actor
from core.data.generator import GeneratorConfig
from core.data.seeding import seed
from db.session import session_scope

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")


def test_overview_shows_claims_per_line_of_business(configured_database: str) -> None:
    with session_scope() as session:
        result = seed(session, actor=cli_actor(), config=GeneratorConfig(claims=150, seed=1))
    app = AppTest.from_file(APP, default_timeout=30).run()
    assert not app.exception
    assert app.metric[0].value == f"{result.imported:,}"
    table = app.dataframe[0].value
    assert set(table["Line of business"]) == {"auto", "property", "health", "travel"}
    assert table["Claims"].sum() == 150


def test_overview_on_an_empty_database_explains_how_to_load_data(configured_database: str) -> None:
    app = AppTest.from_file(APP, default_timeout=30).run()
    assert not app.exception
    assert "claimlens seed" in app.info[0].value

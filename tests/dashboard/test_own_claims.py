"""An insurer's own claims end to end: a file in a real insurer's layout is imported under
its drafted schema, a (tiny) claim model is trained on it and scores it, the queue and
the review page show that insurer's fields under their labels, and drift runs; on both
databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core import accounts, claim_fields, registry, schema, scoring
from core.auth import Role, cli_actor
from core.config import get_settings
from core.data import importing
from core.monitoring.report import run_drift
from core.schema import Schema
from dashboard.ui import plain
from db.models import Claim
from db.session import engine_for, reset_caches
from tests.conftest import DEMO_PASSWORD, train_tiny
from tests.dashboard.test_app import app_as, open_page
from tests.dashboard.test_review_page import as_rendered
from tests.fixtures.layouts import drafted

ADMIN = cli_actor()


@pytest.fixture
def own_book(
    request: pytest.FixtureRequest, configured_database: str, model_dir: Path, tiny_base_model: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Schema, sessionmaker[Session]]]:  # fmt: skip
    """The layout's file imported under its schema, a champion trained on it, every claim scored."""
    data, path = drafted(request.param, tmp_path)
    monkeypatch.setenv("CLAIMLENS_SCHEMA", str(path))
    get_settings.cache_clear()
    reset_caches()
    sessions = sessionmaker(bind=engine_for(configured_database), expire_on_commit=False)
    with sessions() as session, session.begin():
        importing.import_file(session, actor=ADMIN, path=data)
        accounts.create_user(session, actor=ADMIN, username="ada", role=Role.ADJUSTER, password=DEMO_PASSWORD)
    outcome = train_tiny(sessions, tiny_base_model, "claim_risk")
    assert outcome.model_version_id is not None, outcome.error
    if not outcome.promoted:  # a tiny model may miss the gate; the test is about the claims, not its quality
        with sessions() as session, session.begin():
            registry.promote(session, actor=ADMIN, version_id=outcome.model_version_id, override_reason="test book")
    scoring.score(sessions, actor=ADMIN, explain_limit=10, device="cpu")
    yield schema.active_schema(), sessions
    monkeypatch.delenv("CLAIMLENS_SCHEMA")
    get_settings.cache_clear()


@pytest.mark.parametrize("own_book", ["uk_motor", "fraud_oracle"], indirect=True)
def test_the_queue_and_the_review_page_show_the_insurers_own_fields(
    own_book: tuple[Schema, sessionmaker[Session]],
) -> None:
    book, sessions = own_book
    app = open_page(app_as("ada").run(), "queue")
    assert not app.exception
    table = app.dataframe[0].value
    first_segment = book.field(book.segments[0]).display
    assert first_segment in table.columns and len(table) > 0
    if book.roles.amount:  # the amount under its own label; fraud_oracle has none
        assert book.field(book.roles.amount).display in table.columns
    app.button(key="take_next").click().run()
    claim_id = app.session_state["claim_id"]
    app.switch_page("pages/adjuster/review.py").run()
    assert not app.exception
    with sessions() as session:
        number = session.get(Claim, claim_id).claim_number  # type: ignore[union-attr]
    assert app.subheader[0].value.startswith(plain(number))
    page = as_rendered(" ".join(m.value for m in app.markdown))
    labels = [f.display for f in book.fields if f.name not in (*book.text, *book.pii)]
    assert all(f"{label}:" in page for label in labels[:6]), labels
    text_heading = claim_fields.text_label(book).capitalize() if book.text else None
    assert (text_heading is not None and text_heading in page) or (text_heading is None and "Narrative" not in page)
    with sessions() as session, session.begin():
        drift = run_drift(session, actor=ADMIN, window="week")
    assert len(drift.reports) > 0

"""The compliance pages as a compliance officer reads them: the audit log names claims by
number, shows details as text and decision notes, counts "1 entry"; global explanations
say that they cover the flagged claims, with the counts."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from core import registry
from core.bands import FLAGGED
from core.tasks import Task
from db.models import Claim, Explanation, Prediction
from db.session import session_scope
from tests.core.test_triage import actor, take_and_decide
from tests.dashboard.signing import signed_in

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")
NOTE = "Photos predate the policy; see www.example.com"


def compliance_on(page: str) -> AppTest:
    app = signed_in(AppTest.from_file(APP, default_timeout=60), "cora").run()
    app.switch_page(f"pages/compliance/{page}.py")
    return app.run()


def test_the_audit_log_names_the_claim_by_number_shows_the_note_and_details_as_text(scored_database: str) -> None:
    assignment = take_and_decide(actor("adjuster"), "deny", "staged_incident", note=NOTE)
    app = compliance_on("audit_log")
    app.selectbox(key="audit_action").set_value("claim.decided")
    app.text_input(key="audit_entity_id").input(assignment.claim_number).run()
    assert not app.exception and not app.error
    assert app.caption[0].value.startswith("1 entry (newest first")
    (shown,) = app.dataframe[0].value.to_dict("records")
    assert shown["entity type"] == "claim" and shown["entity"] == assignment.claim_number
    assert shown["note"] == NOTE
    assert "decision: deny; reason code: staged_incident" in shown["details"]
    assert "status: in_review → decided" in shown["details"]
    assert "{" not in shown["details"] and "'" not in shown["details"]


def test_the_audit_log_counts_several_entries_in_the_plural(scored_database: str) -> None:
    take_and_decide(actor("adjuster"), "approve", "covered_loss")
    app = compliance_on("audit_log")
    app.text_input(key="audit_actor").input("ada").run()
    rows = len(app.dataframe[0].value)
    assert rows >= 2 and app.caption[0].value.startswith(f"{rows:,} entries (newest first")


def test_global_explanations_say_they_cover_the_flagged_claims_with_the_counts(scored_database: str) -> None:
    with session_scope() as session:
        champion = registry.champion(session, Task.CLAIM_RISK)
        assert champion is not None
        of_champion = select(func.count()).select_from(Prediction).where(Prediction.model_version_id == champion.id)
        scored = session.scalar(of_champion) or 0
        flagged = session.scalar(of_champion.where(Prediction.band.in_(FLAGGED))) or 0
        explained = (
            session.scalar(
                of_champion.join(Explanation, Explanation.prediction_id == Prediction.id)
                .join(Claim, Claim.id == Prediction.claim_id)
                .where(Prediction.band.in_(FLAGGED))
            )
            or 0
        )
    assert 0 < explained < flagged < scored  # the scored world explains 40 flagged claims of many more
    app = compliance_on("explanations")
    assert not [i for i in app.info if "flagged claims" in i.value], "the closed tab does not run"
    app.session_state["explanations_tab"] = "Global explanations"  # the officer opens the tab
    app.run()
    assert not app.exception and not app.error
    (coverage,) = [i.value for i in app.info if "flagged claims" in i.value]
    assert f"{explained:,} of the {flagged:,} flagged claims" in coverage
    assert f"among the {scored:,} claims the champion scored in this selection" in coverage
    assert f"{flagged - explained:,} flagged claims are not explained yet" in coverage

"""Every page for every role, through AppTest on a small scored database with tiny models:
the pages a role may use render without error from stored data; the others are absent."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from streamlit.testing.v1 import AppTest

from core import accounts
from core.auth import cli_actor
from dashboard import ui
from db.models import AuditLog, Claim, Review, TrainingRun, User
from db.session import session_scope
from tests.conftest import DEMO_PASSWORD, DEMO_USERS
from tests.dashboard.signing import signed_in

APP = str(Path(__file__).parents[2] / "dashboard" / "app.py")
PAGES = {
    "adjuster": {"queue", "review"},
    "compliance": {"explanations", "audit", "review"},
    "manager": {"monitoring", "models", "queue", "review"},
    "admin": {"queue", "review", "explanations", "audit", "monitoring", "models", "users"},
}
ALL_PAGES = set().union(*PAGES.values())


def user_id(username: str) -> int:
    with session_scope() as session:
        found = session.scalar(select(User.id).where(User.username == username))
    assert found is not None
    return found


def app_as(username: str | None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    return signed_in(app, username) if username else app


def open_page(app: AppTest, page: str) -> AppTest:
    app.switch_page(f"pages/{_page_file(page)}")
    return app.run()


def _page_file(page: str) -> str:
    return {
        "queue": "adjuster/queue.py",
        "review": "adjuster/review.py",
        "explanations": "compliance/explanations.py",
        "audit": "compliance/audit_log.py",
        "monitoring": "manager/monitoring.py",
        "models": "manager/models.py",
        "users": "admin/users.py",
    }[page]


def count(model: type, *where) -> int:  # type: ignore[no-untyped-def]
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def test_signed_out_visitors_see_only_the_sign_in_page(scored_database: str) -> None:
    app = app_as(None).run()
    assert not app.exception
    assert [b.label for b in app.button] == ["Sign in"] and app.text_input(key="login_username")


def test_a_wrong_password_is_refused_audited_and_a_right_one_signs_in(scored_database: str) -> None:
    app = app_as(None).run()
    app.text_input(key="login_username").input("ada")
    app.text_input(key="login_password").input("not the password")
    app.button(key="login_submit").click().run()
    assert [e.value for e in app.error] == [accounts.WRONG_CREDENTIALS]
    assert count(AuditLog, AuditLog.action == "login.failed") == 1
    app.text_input(key="login_password").input(DEMO_PASSWORD)
    app.button(key="login_submit").click().run()
    assert not app.exception
    assert app.session_state[ui.SESSION_KEY] is not None
    app.switch_page("app.py").run()  # AppTest stays on the login script after st.rerun(); route afresh
    assert open_page(app, "queue").title[0].value == "Triage queue"


@pytest.mark.parametrize("role", list(PAGES))
def test_each_role_sees_its_pages_render_and_not_the_others(scored_database: str, role: str) -> None:
    username = DEMO_USERS[role]
    app = app_as(username).run()
    assert not app.exception
    for page in PAGES[role]:
        open_page(app, page)
        assert not app.exception, (role, page, app.exception)
        assert not app.error, (role, page, [e.value for e in app.error])
    for page in ALL_PAGES - PAGES[role]:
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            app.switch_page(f"pages/{_page_file(page)}")


def test_an_adjuster_takes_the_next_claim_reads_its_reasons_and_denies_it(scored_database: str) -> None:
    app = app_as("ada").run()
    app.button(key="take_next").click().run()
    app.switch_page("pages/adjuster/review.py").run()  # AppTest does not follow st.switch_page
    assert not app.exception
    claim_id = app.session_state["claim_id"]
    assert any(m.value.startswith("- ") for m in app.markdown), "top reasons are listed"
    app.radio(key=f"review_decision_{claim_id}").set_value("deny").run()
    app.selectbox(key=f"review_reason_{claim_id}").set_value("staged_incident").run()
    app.text_area(key=f"review_note_{claim_id}").input("<script>alert(1)</script> photos predate the policy").run()
    app.button(key="review_submit").click().run()
    assert not app.exception and "Recorded: deny (Staged incident)." in [s.value for s in app.success]
    with session_scope() as session:
        decision = session.scalars(select(Review).where(Review.claim_id == claim_id)).one()
        assert decision.decision == "deny" and decision.note.startswith("<script>")  # stored as text
        assert session.get(Claim, claim_id).status == "decided"


def test_a_decision_on_a_claim_that_changed_since_it_was_opened_is_refused(scored_database: str) -> None:
    first = app_as("ada").run()
    first.button(key="take_next").click().run()
    claim_id = first.session_state["claim_id"]
    first.switch_page("pages/adjuster/review.py").run()
    with session_scope() as session:  # the claim changes behind the page's back; nobody decides it
        before = session.get(Claim, claim_id)
        status, version = before.status, before.version + 1
        session.execute(update(Claim).where(Claim.id == claim_id).values(version=version))
    first.radio(key=f"review_decision_{claim_id}").set_value("approve").run()  # no decision is preselected
    first.selectbox(key=f"review_reason_{claim_id}").set_value("covered_loss")
    first.button(key="review_submit").click().run()
    assert not first.exception
    assert any("changed while you were reviewing it" in e.value for e in first.error), [e.value for e in first.error]
    assert count(Review, Review.claim_id == claim_id) == 0  # nothing written
    with session_scope() as session:
        after = session.get(Claim, claim_id)
        assert (after.status, after.version) == (status, version)


def test_a_manager_queues_a_retraining_run_for_the_worker(scored_database: str) -> None:
    app = app_as("max").run()
    open_page(app, "models")
    app.selectbox(key="retrain_task").set_value("Sentiment")
    app.button(key="retrain_submit").click().run()
    assert not app.exception
    assert any(s.value.startswith("Queued training run") for s in app.success)
    assert count(TrainingRun, TrainingRun.status == "queued", TrainingRun.task == "sentiment") == 1
    assert count(AuditLog, AuditLog.action == "training.queued", AuditLog.actor == "max") == 1


def test_an_administrator_adds_a_user_who_can_then_sign_in(scored_database: str) -> None:
    app = app_as("root").run()
    open_page(app, "users")
    app.text_input(key="add_username").input("nina")
    app.selectbox(key="add_role").set_value("compliance")
    app.text_input(key="add_password").input("a long new password")
    app.button(key="add_submit").click().run()
    assert not app.exception
    assert "Added nina; they choose their own password at the first sign-in." in [s.value for s in app.success]
    with session_scope() as session:
        assert session.scalars(select(User).where(User.username == "nina")).one().role == "compliance"
    short = app_as("root").run()
    open_page(short, "users")
    short.text_input(key="add_username").input("oscar")
    short.text_input(key="add_password").input("short")
    short.button(key="add_submit").click().run()
    assert not short.exception and any("at least" in e.value for e in short.error)


def test_a_user_with_an_administrators_password_chooses_their_own_before_anything_else(
    scored_database: str,
) -> None:
    with session_scope() as session:
        cora = session.scalars(select(User).where(User.username == "cora")).one()
        accounts.reset_password(session, actor=cli_actor(), user_id=cora.id, password="set by the admin 1")
    app = signed_in(AppTest.from_file(APP, default_timeout=60), "cora", "set by the admin 1").run()
    assert not app.exception and [t.value for t in app.title] == ["Change password"]
    assert "An administrator set your password. Choose your own to continue." in [i.value for i in app.info]
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # no other page is there at all
        app.switch_page("pages/compliance/audit_log.py")
    app.text_input(key="password_current").input("set by the admin 1")
    app.text_input(key="password_new").input("cora's very own phrase")
    app.text_input(key="password_again").input("cora's very own phrase")
    app.button(key="FormSubmitter:password_form-Change password").click().run()
    assert not app.exception and not app.error
    assert [s.value for s in app.success] == ["Password changed. Your other sessions were signed out."]
    again = signed_in(AppTest.from_file(APP, default_timeout=60), "cora", "cora's very own phrase").run()
    assert open_page(again, "audit").title[0].value == "Audit log"  # the role's pages are there again
    with session_scope() as session:
        assert session.scalars(select(User).where(User.username == "cora")).one().must_change_password is False


def test_compliance_exports_the_audit_log_as_csv(scored_database: str) -> None:
    app = app_as("cora").run()
    open_page(app, "audit")
    assert not app.exception
    # Every stored entry, newest first, but the row logging this very search (written after it).
    assert len(app.dataframe[0].value) == count(AuditLog) - 1
    assert count(AuditLog, AuditLog.action == "audit.searched", AuditLog.actor == "cora") == 1
    app.run()  # a redraw of the same search is not logged again
    assert count(AuditLog, AuditLog.action == "audit.searched") == 1
    assert app.get("download_button")[0].proto.label == "Export CSV"
    app.selectbox(key="audit_action").set_value("user.created").run()
    assert len(app.dataframe[0].value) == count(AuditLog, AuditLog.action == "user.created") == len(DEMO_USERS)
    with session_scope() as session:
        entity_types = sorted(set(session.scalars(select(AuditLog.entity_type))))
    assert app.selectbox(key="audit_entity").options == ["", *entity_types]  # what the log holds, not a fixed list
    assert "user" in entity_types and len(entity_types) > 1

"""Every core function that reads claim data or writes anything, called as every role:
it refuses exactly the roles that `ROLE_PERMISSIONS` does not give its permission(s), and
checks before it looks anything up (so a refusal never depends on what exists).

The functions are discovered, not listed by hand: a new core function that takes an actor
fails here until it is called below, and one that uses the database without an actor
fails until it says why and no page calls it."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

import core
from core import accounts, audit, audit_chain, explanations, jobs, registry, review, scoring, serving, triage
from core.auth import ROLE_PERMISSIONS, Actor, Permission, Role
from core.data import importing, seeding
from core.data.generator import GeneratorConfig
from core.data.seeding import generate_import_frame
from core.errors import ClaimLensError, PermissionDenied
from core.monitoring import alerting, incidents, overview, report, results
from core.run_spec import TrainingConfig

P = Permission
KEY = "a checkpoint key of 16+ characters"
MISSING = 10_000  # ids that do not exist: allowed roles get NotFound or similar, others PermissionDenied
FRAME = generate_import_frame(GeneratorConfig(claims=1, seed=3))

CALLS: list[tuple[str, tuple[Permission, ...], Callable[[Session, Actor], Any]]] = [
    (
        "accounts.create_user",
        (P.MANAGE_USERS,),
        lambda s, a: accounts.create_user(
            s, actor=a, username="newcomer", role=Role.ADJUSTER, password="a test passphrase"
        ),
    ),
    ("accounts.list_users", (P.MANAGE_USERS,), lambda s, a: accounts.list_users(s, actor=a)),
    (
        "accounts.set_active",
        (P.MANAGE_USERS,),
        lambda s, a: accounts.set_active(s, actor=a, user_id=MISSING, active=False),
    ),
    (
        "accounts.change_role",
        (P.MANAGE_USERS,),
        lambda s, a: accounts.change_role(s, actor=a, user_id=MISSING, role=Role.ADMIN),
    ),
    (
        "accounts.reset_password",
        (P.MANAGE_USERS,),
        lambda s, a: accounts.reset_password(s, actor=a, user_id=MISSING, password="a test passphrase"),
    ),
    ("accounts.unlock", (P.MANAGE_USERS,), lambda s, a: accounts.unlock(s, actor=a, user_id=MISSING)),
    ("audit.search", (P.VIEW_AUDIT,), lambda s, a: audit.search(s, actor=a)),
    ("audit.actions", (P.VIEW_AUDIT,), lambda s, a: audit.actions(s, actor=a)),
    ("triage.queue", (P.VIEW_CLAIMS,), lambda s, a: triage.queue(s, actor=a)),
    ("triage.take_next", (P.REVIEW_CLAIMS,), lambda s, a: triage.take_next(s, actor=a)),
    ("triage.count_matching", (P.VIEW_CLAIMS,), lambda s, a: triage.count_matching(s, actor=a)),
    (
        "review.add_comment",
        (P.REVIEW_CLAIMS,),
        lambda s, a: review.add_comment(s, actor=a, claim_id=MISSING, text="a note"),
    ),
    ("review.find_claim", (P.VIEW_CLAIMS,), lambda s, a: review.find_claim(s, actor=a, claim_number="CLM-X")),
    ("review.claim_detail", (P.VIEW_CLAIMS,), lambda s, a: review.claim_detail(s, actor=a, claim_id=MISSING)),
    (
        "review.decide",
        (P.REVIEW_CLAIMS,),
        lambda s, a: review.decide(
            s, actor=a, claim_id=MISSING, expected_version=1, decision="approve", reason_code="covered_loss"
        ),
    ),
    ("review.decided_claims", (P.VIEW_CLAIMS,), lambda s, a: review.decided_claims(s, actor=a)),
    ("registry.promote", (P.PROMOTE_MODELS,), lambda s, a: registry.promote(s, actor=a, version_id=MISSING)),
    (
        "registry.rollback",
        (P.PROMOTE_MODELS,),
        lambda s, a: registry.rollback(s, actor=a, task="claim_risk", reason="r"),
    ),
    ("registry.model_card", (P.VIEW_MODELS,), lambda s, a: registry.model_card(s, actor=a, version_id=MISSING)),
    (
        "registry.compare_with_champion",
        (P.VIEW_MODELS,),
        lambda s, a: registry.compare_with_champion(s, actor=a, version_id=MISSING),
    ),
    ("registry.overview", (P.VIEW_MODELS,), lambda s, a: registry.overview(s, actor=a)),
    (
        "registry.promote_first",
        (P.PROMOTE_MODELS,),
        lambda s, a: registry.promote_first(s, actor=a, version_id=MISSING),
    ),
    (
        "jobs.queue_run",
        (P.TRAIN_MODELS,),
        lambda s, a: jobs.queue_run(s, actor=a, config=TrainingConfig.for_profile("claim_risk", "quick").to_dict()),
    ),
    ("jobs.request_cancel", (P.TRAIN_MODELS,), lambda s, a: jobs.request_cancel(s, actor=a, run_id=MISSING)),
    ("explanations.explain_claim", (P.EXPLAIN,), lambda s, a: explanations.explain_claim(s, actor=a, claim_id=MISSING)),
    (
        "explanations.explain_message",
        (P.EXPLAIN,),
        lambda s, a: explanations.explain_message(s, actor=a, message_id=MISSING),
    ),
    ("explanations.global_importance", (P.VIEW_MODELS,), lambda s, a: explanations.global_importance(s, actor=a)),
    ("scoring.score", (P.RUN_SCORING,), lambda s, a: scoring.score(sessionmaker(bind=s.get_bind()), actor=a)),
    (
        "data.importing.import_claims",
        (P.IMPORT_CLAIMS,),
        lambda s, a: importing.import_claims(s, actor=a, frame=FRAME, source="test"),
    ),
    (
        "data.importing.import_file",
        (P.IMPORT_CLAIMS,),
        lambda s, a: importing.import_file(s, actor=a, path=Path("no-such-claims.csv")),
    ),
    (
        "data.importing.check_upload",
        (P.IMPORT_CLAIMS,),
        lambda s, a: importing.check_upload(actor=a, name="april.csv", data=b"claim_number\n"),
    ),
    (
        "data.importing.import_upload",
        (P.IMPORT_CLAIMS,),
        lambda s, a: importing.import_upload(s, actor=a, name="april.csv", data=b"claim_number\n", skip_invalid=False),
    ),
    ("triage.age_priorities", (P.RUN_SCORING,), lambda s, a: triage.age_priorities(s, actor=a)),
    ("monitoring.overview.overview", (P.VIEW_MONITORING,), lambda s, a: overview.overview(s, actor=a)),
    ("monitoring.report.run_drift", (P.RUN_SCORING,), lambda s, a: report.run_drift(s, actor=a)),
    ("monitoring.results.reports", (P.VIEW_MONITORING,), lambda s, a: results.reports(s, actor=a)),
    ("monitoring.alerting.alerts", (P.VIEW_MONITORING,), lambda s, a: alerting.alerts(s, actor=a)),
    (
        "monitoring.alerting.acknowledge",
        (P.VIEW_MONITORING, P.TRAIN_MODELS),
        lambda s, a: alerting.acknowledge(s, actor=a, alert_id=MISSING, note="seen"),
    ),
    ("monitoring.incidents.inbox", (P.VIEW_MONITORING,), lambda s, a: incidents.inbox(s, actor=a)),
    (
        "monitoring.incidents.acknowledge_incident",
        (P.VIEW_MONITORING, P.TRAIN_MODELS),
        lambda s, a: incidents.acknowledge_incident(s, actor=a, report_id=MISSING, note="seen", expected=1),
    ),
    (
        "monitoring.report.retrain_on_window",
        (P.TRAIN_MODELS,),
        lambda s, a: report.retrain_on_window(s, actor=a, report_id=MISSING),
    ),
    ("accounts.create_demo_users", (P.MANAGE_USERS,), lambda s, a: accounts.create_demo_users(s, actor=a)),
    (
        "audit.record_export",
        (P.VIEW_AUDIT,),
        lambda s, a: audit.record_export(s, actor=a, filters=audit.AuditFilters(), rows=0),
    ),
    ("audit.entity_types", (P.VIEW_AUDIT,), lambda s, a: audit.entity_types(s, actor=a)),
    ("audit_chain.verify", (P.VIEW_AUDIT,), lambda s, a: audit_chain.verify(s, actor=a)),
    ("audit_chain.checkpoint", (P.VIEW_AUDIT,), lambda s, a: audit_chain.checkpoint(s, actor=a, key=KEY)),
    (
        "audit_chain.check_checkpoint",
        (P.VIEW_AUDIT,),
        lambda s, a: audit_chain.check_checkpoint(s, actor=a, saved={}, key=KEY),
    ),
    (
        "data.seeding.seed",
        (P.IMPORT_CLAIMS,),
        lambda s, a: seeding.seed(s, actor=a, config=GeneratorConfig(claims=1, seed=3)),
    ),
    ("jobs.queue_training", (P.TRAIN_MODELS,), lambda s, a: jobs.queue_training(s, actor=a, task="claim_risk")),
    ("jobs.finish_run", (P.TRAIN_MODELS,), lambda s, a: jobs.finish_run(s, actor=a, run_id=MISSING, status="failed")),
    ("jobs.reap_stale_runs", (P.TRAIN_MODELS,), lambda s, a: jobs.reap_stale_runs(s, actor=a)),
    ("jobs.run_views", (P.VIEW_MODELS,), lambda s, a: jobs.run_views(s, actor=a)),
    (
        "registry.register_candidate",
        (P.TRAIN_MODELS,),
        lambda s, a: registry.register_candidate(
            s,
            actor=a,
            task="claim_risk",
            artifact_path="nowhere",
            base_model="tiny",
            method="full",
            metrics={},
            parameters={},
            training_run_id=None,
        ),
    ),
    (
        "registry.rollback_target",
        (P.VIEW_MODELS,),
        lambda s, a: registry.rollback_target(s, actor=a, task="claim_risk"),
    ),
    (
        "explanations.explain_pending",
        (P.RUN_SCORING,),
        lambda s, a: explanations.explain_pending(sessionmaker(bind=s.get_bind()), actor=a),
    ),
    (
        "serving.rescoring_needed",
        (P.VIEW_MODELS,),
        lambda s, a: serving.rescoring_needed(s, actor=a, version_id=MISSING),
    ),
    ("serving.finish_transition", (P.RUN_SCORING,), lambda s, a: serving.finish_transition(s, actor=a)),
    ("serving.scoring_progress", (P.VIEW_CLAIMS,), lambda s, a: serving.scoring_progress(s, actor=a)),
]

# Core functions that take an actor and check no permission, and why that is right.
NO_PERMISSION_NEEDED = {
    "auth.require": "the check itself",
    "audit.record": "writes the audit row of an action whose function has checked its actor",
    "accounts.change_own_password": "every signed-in user's own password; it proves the current one",
}
# Core functions that read or write through a session without an actor, and why. Those
# not marked as sign-in are for the worker and the CLI only: no page may call them.
SIGN_IN = "signing in and out: who is acting is what it finds out"
WITHOUT_ACTOR = {
    "accounts.authenticate": SIGN_IN,
    "accounts.authenticate_email": SIGN_IN,
    "accounts.issue_cookie": SIGN_IN,
    "accounts.resume": SIGN_IN,
    "accounts.resume_cookie": SIGN_IN,
    "accounts.end_session": SIGN_IN,
    "accounts.record_activity": SIGN_IN,
    "audit_chain.seal": "the worker seals rows already written",
    "data.importing.load_rows": "reads a file, not the database (the session checks claim numbers)",
    "labels.decision_labels": "a step of training's data loading, under a run a manager queued",
    "jobs.claim_next_run": "the worker's own bookkeeping",
    "jobs.claim_run": "the worker's own bookkeeping",
    "jobs.report_progress": "the worker's own bookkeeping",
    "jobs.beat": "the worker's own bookkeeping",
    "jobs.has_queued_runs": "the worker's own bookkeeping",
    "monitoring.report.store_window": "a step of run_drift, which checks",
    "monitoring.windows.claims_between": "a step of run_drift, which checks",
    "monitoring.windows.sentiments_between": "a step of run_drift, which checks",
    "monitoring.windows.reference_window": "a step of run_drift, which checks",
    "monitoring.windows.reference_outcomes": "a step of run_drift, which checks",
    "monitoring.windows.reference_calibration": "a step of run_drift and of training's gate",
    "monitoring.windows.performance_baseline": "a step of run_drift and of training's gate",
    "monitoring.windows.window_claims": "a step of run_drift, which checks",
    "registry.champion": "the worker and training find the model to load",
    "scoring.pending": "the worker asks whether anything is left to score",
    "explanations.store_explanation": "a step of explain_pending and explain_claim, which check",
    "serving.serving": "the worker and scoring find the models to load",
    "serving.open_claims_to_rescore": "a step of scoring, which checks",
}


def public_core_functions() -> dict[str, Callable[..., Any]]:
    """Every public function defined in a `core` module, by its dotted name under `core`."""
    found = {}
    for module_info in pkgutil.walk_packages(core.__path__, "core."):
        module = importlib.import_module(module_info.name)
        for name, function in vars(module).items():
            if not name.startswith("_") and inspect.isfunction(function) and function.__module__ == module.__name__:
                found[f"{module.__name__.removeprefix('core.')}.{name}"] = function
    return found


def _takes(function: Callable[..., Any], *names: str) -> bool:
    return any(name in inspect.signature(function).parameters for name in names)


def test_every_core_function_taking_an_actor_is_checked_for_every_role() -> None:
    acting = {name for name, function in public_core_functions().items() if _takes(function, "actor")}
    unchecked = acting - {c[0] for c in CALLS} - NO_PERMISSION_NEEDED.keys()
    assert not unchecked, f"add these to CALLS (or say why they need no permission): {sorted(unchecked)}"
    assert not {c[0] for c in CALLS} - acting, "CALLS names a function that is gone"


def test_every_core_function_using_the_database_without_an_actor_is_known_and_kept_off_the_pages() -> None:
    found = {
        name
        for name, function in public_core_functions().items()
        if _takes(function, "session", "sessions") and not _takes(function, "actor")
    }
    assert found - WITHOUT_ACTOR.keys() == set(), "a new core function reads or writes without an actor: give it one"
    assert WITHOUT_ACTOR.keys() - found == set(), "WITHOUT_ACTOR names a function that is gone or now takes an actor"
    pages = "\n".join(path.read_text() for path in Path("dashboard").rglob("*.py"))
    for name, why in WITHOUT_ACTOR.items():
        if why != SIGN_IN:
            called = ".".join(name.split(".")[-2:]) + "("
            assert called not in pages, f"a page calls {name}, which checks no actor ({why})"


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(("name", "needs", "call"), CALLS, ids=[c[0] for c in CALLS])
def test_each_function_refuses_exactly_the_roles_without_its_permission(
    session: Session, role: Role, name: str, needs: tuple[Permission, ...], call: Callable[[Session, Actor], Any]
) -> None:
    actor = Actor(f"someone-{role}", role, user_id=None)
    allowed = all(p in ROLE_PERMISSIONS[role] for p in needs)
    try:
        with session.begin():
            call(session, actor)
            session.rollback()
    except PermissionDenied:
        assert not allowed, f"{name} refused {role}, which has {needs}"
    except ClaimLensError:
        assert allowed, f"{name} looked something up before checking that {role} may"
    else:
        assert allowed, f"{name} let {role} through without {needs}"

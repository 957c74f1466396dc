"""Every core function that reads claim data or writes anything, called as every role:
it refuses exactly the roles that `ROLE_PERMISSIONS` does not give its permission(s), and
checks before it looks anything up (so a refusal never depends on what exists)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core import accounts, audit, jobs, registry, review, scoring, triage
from core.auth import ROLE_PERMISSIONS, Actor, Permission, Role
from core.data import importing
from core.data.generator import GeneratorConfig
from core.data.seeding import generate_import_frame
from core.errors import ClaimLensError, PermissionDenied
from core.monitoring import incidents, overview, report
from training.config import TrainingConfig

P = Permission
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
    ("registry.versions", (P.VIEW_MODELS,), lambda s, a: registry.versions(s, actor=a)),
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
    ("jobs.recent_runs", (P.VIEW_MODELS,), lambda s, a: jobs.recent_runs(s, actor=a)),
    ("scoring.explain_claim", (P.EXPLAIN,), lambda s, a: scoring.explain_claim(s, actor=a, claim_id=MISSING)),
    ("scoring.explain_message", (P.EXPLAIN,), lambda s, a: scoring.explain_message(s, actor=a, message_id=MISSING)),
    ("scoring.global_importance", (P.VIEW_MODELS,), lambda s, a: scoring.global_importance(s, actor=a)),
    ("scoring.score", (P.RUN_SCORING,), lambda s, a: scoring.score(sessionmaker(bind=s.get_bind()), actor=a)),
    (
        "importing.import_claims",
        (P.IMPORT_CLAIMS,),
        lambda s, a: importing.import_claims(s, actor=a, frame=FRAME, source="test"),
    ),
    ("monitoring.overview", (P.VIEW_MONITORING,), lambda s, a: overview.overview(s, actor=a)),
    ("monitoring.run_drift", (P.RUN_SCORING,), lambda s, a: report.run_drift(s, actor=a)),
    ("monitoring.reports", (P.VIEW_MONITORING,), lambda s, a: report.reports(s, actor=a)),
    ("monitoring.alerts", (P.VIEW_MONITORING,), lambda s, a: report.alerts(s, actor=a)),
    (
        "monitoring.acknowledge",
        (P.VIEW_MONITORING, P.TRAIN_MODELS),
        lambda s, a: report.acknowledge(s, actor=a, alert_id=MISSING, note="seen"),
    ),
    ("monitoring.inbox", (P.VIEW_MONITORING,), lambda s, a: incidents.inbox(s, actor=a)),
    (
        "monitoring.acknowledge_incident",
        (P.VIEW_MONITORING, P.TRAIN_MODELS),
        lambda s, a: incidents.acknowledge_incident(s, actor=a, report_id=MISSING, note="seen", expected=1),
    ),
    (
        "monitoring.retrain_on_window",
        (P.TRAIN_MODELS,),
        lambda s, a: report.retrain_on_window(s, actor=a, report_id=MISSING),
    ),
]


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

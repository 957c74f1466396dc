"""A model change never empties the triage queue: the outgoing champion serves the open
claims the new one has not rescored, marked as such, until the rescoring is done."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from core import accounts, registry, review, scoring, serving, triage
from core import schema as schema_module
from core.auth import Actor, Role, cli_actor
from core.config import get_settings
from core.data import importing
from core.data.generator import GeneratorConfig
from core.data.seeding import generate_import_frame, seed
from core.errors import InvalidInput
from core.tasks import Task
from db.models import AuditLog, Claim, ModelVersion, Prediction, Review
from db.session import engine_for
from tests.conftest import train_tiny

ADMIN = cli_actor()


@dataclass
class World:
    sessions: sessionmaker[Session]
    adjuster: Actor
    old: int  # the champion's id before the change
    new: int  # the challenger's id


@pytest.fixture
def world(database_url: str, model_dir: Path, tiny_base_model: str) -> World:
    """300 scored claims under claim model v1, and a trained challenger v2 that has scored nothing."""
    sessions = sessionmaker(bind=engine_for(database_url), expire_on_commit=False)
    with sessions() as session, session.begin():
        seed(session, actor=ADMIN, config=GeneratorConfig(claims=300, seed=12))
        user = accounts.create_user(
            session, actor=ADMIN, username="ada", role=Role.ADJUSTER, password="correct horse battery"
        )
        adjuster = Actor(username=user.username, role=Role.ADJUSTER, user_id=user.id)
    first = train_tiny(sessions, tiny_base_model, "claim_risk")
    assert first.promoted
    scoring.score(sessions, actor=ADMIN, explain_limit=0, device="cpu")
    challenger = train_tiny(sessions, tiny_base_model, "claim_risk", epochs=1)
    assert not challenger.promoted and challenger.model_version_id is not None
    return World(sessions, adjuster, first.model_version_id, challenger.model_version_id)  # type: ignore[arg-type]


def whole_queue(world: World) -> dict[str, triage.QueueRow]:
    """Every row of the default queue (flagged, open), by claim number."""
    rows: dict[str, triage.QueueRow] = {}
    page = 0
    while True:
        with world.sessions() as session:
            result = triage.queue(session, actor=world.adjuster, page=page, page_size=200)
        rows.update((r.claim_number, r) for r in result.rows)
        if not result.has_next:
            return rows
        page += 1


def promote(world: World, version_id: int) -> None:
    with world.sessions() as session, session.begin():
        registry.promote(session, actor=ADMIN, version_id=version_id, override_reason="test: make it champion")


def new_predictions(world: World, version_id: int) -> dict[int, Prediction]:
    with world.sessions() as session:
        rows = session.scalars(select(Prediction).where(Prediction.model_version_id == version_id))
        return {p.claim_id: p for p in rows}


def test_promotion_keeps_every_queued_claim_in_the_queue_until_the_new_champion_has_rescored_it(
    world: World,
) -> None:
    before = whole_queue(world)
    assert before
    with world.sessions() as session:
        assert serving.rescoring_needed(session, actor=ADMIN, version_id=world.new) > 0
    promote(world, world.new)

    during = whole_queue(world)
    assert set(during) == set(before)  # nothing rescored yet: the same claims, from the old model
    assert all(r.from_previous_model and r.model_version == 1 for r in during.values())
    with world.sessions() as session:
        assert any("rescoring" in note for note in triage.queue(session, actor=world.adjuster).notes)

    scoring.score(world.sessions, actor=ADMIN, explain_limit=0, device="cpu", limit=64, chunk_size=64)
    partly = whole_queue(world)
    rescored = new_predictions(world, world.new)
    assert 0 < len(rescored) < 300
    for number, row in before.items():
        mine = rescored.get(row.claim_id)
        if mine is None:  # not rescored yet: still there, from the old model
            assert partly[number].from_previous_model
        elif mine.band in ("high", "medium"):  # rescored and still flagged: there, from the new model
            assert not partly[number].from_previous_model and partly[number].model_version == 2
        else:  # the new model does not flag it: it leaves the queue because of a prediction, not a gap
            assert number not in partly
    with world.sessions() as session:
        assert serving.serving(session).fallbacks  # type: ignore[union-attr]

    scoring.score(world.sessions, actor=ADMIN, explain_limit=0, device="cpu")
    after = whole_queue(world)
    assert after and not any(r.from_previous_model for r in after.values())
    with world.sessions() as session:
        served = serving.serving(session)
        assert served is not None and served.fallbacks == ()
        assert session.scalar(select(AuditLog).where(AuditLog.action == "model.serving")) is not None
        assert not triage.queue(session, actor=world.adjuster).notes


def test_rollback_serves_the_rolled_back_models_predictions_for_claims_the_restored_one_never_scored(
    world: World,
) -> None:
    promote(world, world.new)
    scoring.score(world.sessions, actor=ADMIN, explain_limit=0, device="cpu")
    with world.sessions() as session, session.begin():
        importing.import_claims(
            session, actor=ADMIN, frame=generate_import_frame(GeneratorConfig(claims=60, seed=77)), source="late.csv"
        )
    scoring.score(world.sessions, actor=ADMIN, explain_limit=0, device="cpu")  # the late claims: only v2 has them
    before = whole_queue(world)
    with world.sessions() as session, session.begin():
        restored = registry.rollback(session, actor=ADMIN, task=Task.CLAIM_RISK, reason="test")
    assert restored.id == world.old

    during = whole_queue(world)
    old = new_predictions(world, world.old)
    late = {n: r for n, r in during.items() if r.claim_id not in old}
    assert late and all(r.from_previous_model and r.model_version == 2 for r in late.values())
    for number, row in before.items():
        mine = old.get(row.claim_id)
        if mine is None or mine.band in ("high", "medium"):
            assert number in during  # only v2 had scored it, or v1 flags it too: it stays

    scoring.score(world.sessions, actor=ADMIN, explain_limit=0, device="cpu")
    assert not any(r.from_previous_model for r in whole_queue(world).values())


def test_take_next_and_decisions_use_the_prediction_the_adjuster_sees_during_a_change(world: World) -> None:
    promote(world, world.new)
    with world.sessions() as session, session.begin():
        taken = triage.take_next(session, actor=world.adjuster)
    assert taken is not None  # the queue is not empty for "take next" either
    with world.sessions() as session:
        detail = review.claim_detail(session, actor=world.adjuster, claim_id=taken.claim_id, record_view=False)
    assert detail.prediction is not None and detail.prediction.model_version == 1
    with world.sessions() as session, session.begin():
        decided = review.decide(
            session, actor=world.adjuster, claim_id=taken.claim_id, expected_version=taken.version,
            decision="approve", reason_code=review.REASON_CODES["approve"][0],
        )  # fmt: skip
        decided_on = decided.prediction_id
    assert decided_on == detail.prediction.id
    scoring.score(world.sessions, actor=ADMIN, explain_limit=0, device="cpu")
    with world.sessions() as session:
        kept = session.scalar(select(Review.prediction_id).where(Review.claim_id == taken.claim_id))
    assert kept == decided_on  # decided claims keep the prediction they were decided on


def test_a_limited_run_scores_open_claims_before_decided_ones(
    database_url: str, model_dir: Path, tiny_base_model: str
) -> None:
    sessions = sessionmaker(bind=engine_for(database_url), expire_on_commit=False)
    with sessions() as session, session.begin():
        seed(session, actor=ADMIN, config=GeneratorConfig(claims=300, seed=12))
        # A book with history: the oldest claims (lowest ids) are decided already.
        oldest = select(Claim.id).order_by(Claim.id).limit(40).scalar_subquery()
        session.execute(update(Claim).where(Claim.id.in_(oldest)).values(status="decided"))
    assert train_tiny(sessions, tiny_base_model, "claim_risk").promoted
    result = scoring.score(sessions, actor=ADMIN, explain_limit=0, device="cpu", limit=32, chunk_size=32)
    assert result.claims == 32
    with sessions() as session:
        progress = serving.scoring_progress(session, actor=ADMIN)
        scored_statuses = session.scalars(select(Claim.status).join(Prediction, Prediction.claim_id == Claim.id)).all()
        first_by_id = session.scalars(select(Claim.status).order_by(Claim.id).limit(32)).all()
    assert progress.open_claims.total >= 32, "the seeded world has open claims"
    # Scoring in id order would have scored decided claims: only open-first passes.
    assert not set(first_by_id) <= set(triage.OPEN_STATUSES), "the lowest ids include decided claims"
    assert set(scored_statuses) <= set(triage.OPEN_STATUSES)
    assert progress.claims.scored == 32 and not progress.done
    assert any("Scoring claims: 32 of 300" in line for line in progress.lines())


def test_a_rollback_in_the_middle_of_two_changes_keeps_the_oldest_models_claims_in_the_queue(
    world: World, tiny_base_model: str
) -> None:
    before = whole_queue(world)
    third = train_tiny(world.sessions, tiny_base_model, "claim_risk", epochs=1)
    promote(world, world.new)
    promote(world, third.model_version_id)  # type: ignore[arg-type]  # v2 has rescored nothing yet
    with world.sessions() as session, session.begin():
        registry.rollback(session, actor=ADMIN, task=Task.CLAIM_RISK, reason="test")  # back to v2
    during = whole_queue(world)
    assert set(during) == set(before)  # only v1 ever scored them: v1 still serves them
    assert {r.model_version for r in during.values()} == {1}


def test_a_claim_model_refuses_a_schema_that_removed_a_field_it_reads_and_says_what_to_do(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = schema_module.DEMO_SCHEMA.read_text(encoding="utf-8")
    grown = demo + '\n[[fields]]\nname = "repair_shop"\ntype = "category"\n'
    shrunk = demo.replace('name = "witnesses"\ntype = "integer"', 'name = "witnesses"\ntype = "text"')
    with world.sessions() as session:
        version = session.get(ModelVersion, world.old)
        assert version is not None
        for text, refused in ((grown, False), (shrunk, True)):
            path = tmp_path / f"{refused}.toml"
            path.write_text(text, encoding="utf-8")
            monkeypatch.setenv("CLAIMLENS_SCHEMA", str(path))
            get_settings.cache_clear()
            try:
                if not refused:  # a schema that only grew is read by the model trained before
                    assert serving.load_version(version, "cpu").meta.schema_fingerprint
                    continue
                with pytest.raises(InvalidInput, match=r"'witnesses' was integer and is now text.*Train a new model"):
                    serving.load_version(version, "cpu")
            finally:
                monkeypatch.delenv("CLAIMLENS_SCHEMA")
                get_settings.cache_clear()

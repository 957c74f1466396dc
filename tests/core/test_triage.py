"""The triage queue and "take next" on a scored database (tiny models), SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update

from core import claim_store, registry, triage
from core.auth import Actor, Role, cli_actor
from core.config import get_settings
from core.errors import InvalidInput, PermissionDenied
from core.tasks import Task
from db.models import AuditLog, Claim, Prediction, User
from db.session import session_scope
from tests.conftest import DEMO_USERS, run_at_once


def actor(key: str) -> Actor:
    with session_scope() as session:
        user = session.scalars(select(User).where(User.username == DEMO_USERS[key])).one()
        return Actor(user.username, Role(user.role), user.id)


def take_and_decide(who: Actor, decision: str, reason_code: str, note: str | None = None) -> triage.Assignment:
    """What an adjuster does all day: take the next claim, then decide it."""
    from core import review

    with session_scope() as session:
        assignment = triage.take_next(session, actor=who)
    assert assignment is not None
    with session_scope() as session:
        review.decide(
            session,
            actor=who,
            claim_id=assignment.claim_id,
            expected_version=assignment.version,
            decision=decision,
            reason_code=reason_code,
            note=note,
        )
    return assignment


def full_queue(who: Actor, filters: triage.QueueFilters | None = None) -> list[triage.QueueRow]:
    rows, page = [], 0
    while True:
        with session_scope() as session:
            result = triage.queue(session, actor=who, filters=filters, page=page, page_size=50)
        rows += result.rows
        if not result.has_next:
            return rows
        page += 1


def test_queue_lists_every_open_flagged_claim_once_highest_priority_first(scored_database: str) -> None:
    rows = full_queue(actor("adjuster"))
    with session_scope() as session:
        champion = registry.champion(session, Task.CLAIM_RISK)
        expected = session.scalar(
            select(func.count())
            .select_from(Prediction)
            .join(Claim, Claim.id == Prediction.claim_id)
            .where(
                Prediction.model_version_id == champion.id,
                Prediction.band.in_(["high", "medium"]),
                Claim.status.in_(["new", "in_review"]),
            )
        )
    assert expected and len(rows) == expected
    assert len({r.claim_id for r in rows}) == len(rows)
    priorities = [r.priority for r in rows]
    assert priorities == sorted(priorities, reverse=True)
    assert {r.band for r in rows} <= {"high", "medium"}
    assert any(r.top_reason for r in rows), "flagged claims explained at scoring show their top reason"
    sla_days = get_settings().triage_sla_days
    assert all(r.sla == ("overdue" if r.age_days > sla_days else "due") for r in rows)


def test_a_claim_is_due_through_the_slas_last_day_and_overdue_after() -> None:
    assert triage.sla_state(0, 5) == "due"
    assert triage.sla_state(5, 5) == "due"
    assert triage.sla_state(6, 5) == "overdue"


def test_filters_by_line_band_dates_and_narrative_text(scored_database: str) -> None:
    who = actor("adjuster")
    everything = full_queue(who, triage.QueueFilters(bands=triage.BANDS))
    auto_high = full_queue(who, triage.QueueFilters(segments=(("line_of_business", ("auto",)),), bands=("high",)))
    assert auto_high and all(r.segments["line_of_business"] == "auto" and r.band == "high" for r in auto_high)
    assert len(auto_high) == sum(r.segments["line_of_business"] == "auto" and r.band == "high" for r in everything)
    start, end = date(2026, 3, 1), date(2026, 3, 31)
    march = full_queue(who, triage.QueueFilters(bands=triage.BANDS, reported_from=start, reported_to=end))
    assert march and all(start <= r.report_date <= end for r in march)
    with session_scope() as session:
        narrative = claim_store.column("narrative")
        word = session.scalar(select(narrative).limit(1)).split()[1].strip(".,").lower()
        matching = {c for (c,) in session.execute(select(Claim.id).where(func.lower(narrative).contains(word)))}
    found = full_queue(who, triage.QueueFilters(bands=triage.BANDS, search=word.upper()))
    assert found and {r.claim_id for r in found} == matching & {r.claim_id for r in everything}


@pytest.mark.parametrize("hostile", ["%", "_", "' OR 1=1 --", '"; DROP TABLE claims; --', "ü€😀", "x" * 200])
def test_search_text_is_data_not_sql_or_wildcards(scored_database: str, hostile: str) -> None:
    rows = full_queue(actor("adjuster"), triage.QueueFilters(bands=triage.BANDS, search=hostile))
    assert rows == []  # no narrative contains these literally
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Claim)) == 300


def test_bad_filters_are_clear_errors() -> None:
    with pytest.raises(InvalidInput, match="unknown band"):
        triage.QueueFilters(bands=("extreme",))
    with pytest.raises(InvalidInput, match="ends before it starts"):
        triage.QueueFilters(reported_from=date(2026, 2, 1), reported_to=date(2026, 1, 1))
    with pytest.raises(InvalidInput, match="limited"):
        triage.QueueFilters(search="x" * 201)


def test_take_next_assigns_the_top_unassigned_claim_and_audits_it(scored_database: str) -> None:
    who = actor("adjuster")
    top = next(r for r in full_queue(who) if r.assigned_to is None and r.status == "new")
    with session_scope() as session:
        assignment = triage.take_next(session, actor=who)
    assert assignment is not None and assignment.claim_id == top.claim_id
    mine = full_queue(who, triage.QueueFilters(assigned_to_me=True))
    assert [r.claim_id for r in mine] == [top.claim_id] and mine[0].status == "in_review"
    with session_scope() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(AuditLog)
                .where(AuditLog.action == "claim.assigned", AuditLog.entity_id == str(top.claim_id))
            )
            == 1
        )


def test_twenty_adjusters_taking_at_once_never_share_a_claim(scored_database: str) -> None:
    who = actor("adjuster")

    def take(_: int) -> int | None:
        with session_scope() as session:
            assignment = triage.take_next(session, actor=who)
        return assignment.claim_id if assignment else None

    results, errors = run_at_once(take, 20)
    taken = [r for r in results.values() if r is not None]
    assert not errors, errors
    assert len(taken) == len(set(taken)) == 20


def test_take_next_on_an_empty_queue_returns_nothing(scored_database: str) -> None:
    with session_scope() as session:
        session.execute(update(Claim).values(status="decided"))
    with session_scope() as session:
        assert triage.take_next(session, actor=actor("adjuster")) is None


def test_only_reviewers_take_claims(scored_database: str) -> None:
    for key in ("compliance", "manager"):
        with session_scope() as session, pytest.raises(PermissionDenied):
            triage.take_next(session, actor=actor(key))


def test_the_queue_counts_every_matching_claim_across_pages(scored_database: str) -> None:
    who = actor("adjuster")
    rows = full_queue(who)
    travel = triage.QueueFilters(segments=(("line_of_business", ("travel",)),))
    with session_scope() as session:
        first = triage.queue(session, actor=who, page=0, page_size=5)
        last = triage.queue(session, actor=who, page=(len(rows) - 1) // 5, page_size=5)
        past = triage.queue(session, actor=who, page=len(rows) // 5 + 3, page_size=5)
        counted = triage.count_matching(session, actor=who)
        counted_travel = triage.count_matching(session, actor=who, filters=travel)
    assert first.has_next and first.total is None, "more pages: the page leaves the count to count_matching"
    assert not last.has_next and last.total == len(rows)  # the last page knows the total
    assert past.rows == [] and past.total is None  # past the end it is counted, not guessed
    assert (counted.total, counted.capped, counted.label) == (len(rows), False, f"{len(rows):,}")
    assert counted_travel.total == len([r for r in rows if r.segments["line_of_business"] == "travel"])


def test_past_the_cap_the_count_stops_and_says_so(scored_database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(triage, "COUNT_CAP", 7)
    with session_scope() as session:
        counted = triage.count_matching(session, actor=actor("adjuster"))
    assert (counted.total, counted.capped, counted.label) == (7, True, "7+")


def test_a_referral_leaves_triage_for_the_siu_view_and_is_never_taken(scored_database: str) -> None:
    who = actor("adjuster")
    referred = take_and_decide(who, "refer_siu", "ring_pattern")
    siu = triage.QUEUE_VIEWS["SIU referrals"]
    assert referred.claim_id not in {r.claim_id for r in full_queue(who, triage.QUEUE_VIEWS["Triage"])}
    [row] = full_queue(actor("adjuster2"), siu)  # SIU reviewers see it, unassigned, in its own view
    assert (row.claim_id, row.status, row.assigned_to) == (referred.claim_id, "siu_review", None)
    with session_scope() as session:  # "take next" takes new claims only: a referral is not triage work
        session.execute(update(Claim).where(Claim.id != referred.claim_id).values(status="decided"))
    with session_scope() as session:
        assert triage.take_next(session, actor=who) is None


def test_a_closed_claim_has_no_sla_however_old() -> None:
    assert triage.sla_state(400, 5, is_open=False) == ""
    assert (triage.sla_state(5, 5), triage.sla_state(6, 5)) == ("due", "overdue")


def test_triage_priority_rises_with_risk_amount_and_waiting() -> None:
    settings = get_settings()
    base = triage.priority(0.2, 1000, 1, settings)
    assert triage.priority(0.8, 1000, 1, settings) > base
    assert triage.priority(0.2, 500_000, 1, settings) > base
    assert triage.priority(0.2, 1000, 9, settings) > base
    assert 0 <= triage.priority(1.0, 10**9, 1000, settings) <= 100


def test_a_waiting_claims_priority_ages_each_day_and_the_queue_follows(scored_database: str) -> None:
    settings = get_settings()
    prediction_of = select(Prediction.claim_id, Prediction.priority, Prediction.probability,
                           Claim.amount, Claim.report_date, Claim.is_open).join(Claim)  # fmt: skip
    with session_scope() as session:
        scored = {row.claim_id: row for row in session.execute(prediction_of)}
        newest = max(row.report_date for row in scored.values() if row.is_open)
        triage.age_priorities(session, actor=cli_actor(), today=newest)  # the day the newest claim came in
    with session_scope() as session:
        before = {row.claim_id: row for row in session.execute(prediction_of)}
        later = newest + timedelta(days=3)
        aged = triage.age_priorities(session, actor=cli_actor(), today=later)
    with session_scope() as session:
        after = {row.claim_id: row.priority for row in session.execute(prediction_of)}
    assert aged > 0
    for claim_id, row in before.items():
        if row.is_open:  # three more days of waiting, by the same rule as at scoring
            waited = (later - row.report_date).days
            assert after[claim_id] == triage.priority(row.probability, float(row.amount), waited, settings)
        else:
            assert after[claim_id] == scored[claim_id].priority  # a decided claim's priority is history
    recent = 2 * settings.triage_sla_days
    risen = [c for c, row in before.items() if row.is_open and (later - row.report_date).days <= recent]
    assert risen and all(after[c] > before[c].priority for c in risen)
    rows = full_queue(actor("adjuster"))
    assert [r.priority for r in rows] == sorted((after[r.claim_id] for r in rows), reverse=True)
    with session_scope() as session:
        assert triage.age_priorities(session, actor=cli_actor(), today=later) == 0  # once a day is enough
        logged = session.scalars(select(AuditLog.details).where(AuditLog.action == "triage.priorities_aged")).all()
    assert [d["as_of"] for d in logged][-1] == later.isoformat() and logged[-1]["predictions"] == aged


def test_a_book_without_amounts_weighs_risk_and_waiting_only() -> None:
    settings = get_settings()
    risk, wait = settings.triage_risk_weight, settings.triage_wait_weight
    unamounted = triage.priority(0.5, None, settings.triage_sla_days, settings)
    assert unamounted == pytest.approx(100 * (risk * 0.5 + wait * 0.5) / (risk + wait), abs=1e-3)
    assert triage.priority(0.5, 0.0, settings.triage_sla_days, settings) < unamounted  # no amount is not a zero one

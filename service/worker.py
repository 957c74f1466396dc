"""`claimlens worker`: serve queued training runs until stopped, and between runs score
and explain in the background.

Between training runs the worker scores what the champions have not scored (open claims
first, so a new champion takes over the queue quickly; a queued training run interrupts
it between chunks), then writes the drift reports once everything is scored (they need
predictions, not explanations), then explains flagged claims a few at a time, then seals
the audit rows written since the last seal (`core.audit_chain`). The
champions are loaded once and reloaded only when a champion changes; when nothing is left
to score, the worker looks again every `IDLE_SCORE_CHECK_SECONDS`, or at once when a
champion changes.

SIGTERM/SIGINT mark the run in hand failed before exiting; a worker killed outright
(SIGKILL, power loss) stops beating, and the next worker reaps its run as failed.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from types import FrameType

from sqlalchemy.orm import Session, sessionmaker

from core import audit_chain, clock, explanations, jobs, registry, scoring, serving, triage
from core.auth import Actor
from core.errors import ClaimLensError
from core.monitoring.alerting import notify
from core.monitoring.report import run_drift
from core.tasks import Task
from db.models import RunStatus
from training.run import RunOutcome, execute_run

log = logging.getLogger("claimlens.worker")
POLL_SECONDS = 2.0
HEARTBEAT_SECONDS = 30.0
EXPLAIN_WHEN_IDLE = 8  # explanations between two looks at the training queue
# With nothing left to score, how often the worker looks for new claims and messages
# (each look is an anti-join over the claims: cheap, but not free at a million claims).
IDLE_SCORE_CHECK_SECONDS = 30.0
# Background scoring asks after every chunk whether a training run waits; smaller chunks
# than `claimlens score` uses keep that wait to seconds on a 2-core CPU.
BACKGROUND_CHUNK_SIZE = 128


class Stopped(BaseException):  # not Exception: a run must not swallow it
    pass


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


worker_actor = jobs.worker_actor  # the worker as the audit log names it


@contextmanager
def _heartbeat(sessions: sessionmaker[Session], run_id: int) -> Iterator[None]:
    """Beat from a thread, so long phases without progress (encoding, evaluation) still show life."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(HEARTBEAT_SECONDS):
            with sessions() as session, session.begin():
                jobs.beat(session, run_id=run_id)

    thread = threading.Thread(target=loop, name=f"heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


class Background:
    """The worker's idle work, one bounded step at a time, with the champions kept loaded."""

    def __init__(self, sessions: sessionmaker[Session], actor: Actor, worker_id: str) -> None:
        self.sessions = sessions
        self.actor = actor
        self.worker_id = worker_id
        self.models = serving.ModelCache()
        self._champions: tuple[int | None, int | None] | None = None
        self._next_score_check = 0.0
        self._backoff_until = 0.0  # after an error, all background work waits
        self._drift_due = True  # once at start: reports may be missing for what is already scored
        self._aged_on: date | None = None  # the day open claims' priorities were last aged

    def step(self) -> bool:
        """Score, age priorities, report, explain or seal a little; False when there was nothing to do (or
        an error a moment ago asks to wait)."""
        if time.monotonic() < self._backoff_until:
            return False
        try:
            return self._score() or self._age() or self._drift() or self._explain() or self._seal()
        except ClaimLensError as error:  # e.g. the champion's folder is gone: say so, keep serving runs
            log.warning("background scoring: %s", error)
        except Exception:  # a locked or lost database, a broken model file: log it, back off, go on
            log.exception("background work failed; trying again in %.0f s", IDLE_SCORE_CHECK_SECONDS)
        self._next_score_check = self._backoff_until = time.monotonic() + IDLE_SCORE_CHECK_SECONDS
        return False

    def _champion_ids(self) -> tuple[int | None, int | None]:
        with self.sessions() as session:
            claim, sentiment = (registry.champion(session, task) for task in (Task.CLAIM_RISK, Task.SENTIMENT))
            return (claim.id if claim else None, sentiment.id if sentiment else None)

    def _score(self) -> bool:
        champions = self._champion_ids()
        if champions != self._champions:  # a promotion or rollback: rescore at once
            self._champions, self._next_score_check = champions, 0.0
        if time.monotonic() < self._next_score_check:
            return False
        with self.sessions() as session, session.begin():
            # A new champion whose open claims are all scored already (a rollback to a model
            # that scored them) has nothing to rescore: end the hand-over now.
            serving.finish_transition(session, actor=self.actor)
            nothing_to_score = not scoring.pending(session)
        if nothing_to_score:
            self._next_score_check = time.monotonic() + IDLE_SCORE_CHECK_SECONDS
            return False
        result = scoring.score(
            self.sessions, actor=self.actor, explain_limit=0, worker_id=self.worker_id, models=self.models,
            should_stop=self._training_waits, chunk_size=BACKGROUND_CHUNK_SIZE,
        )  # fmt: skip
        log.info("scored %s claims and %s messages in the background", result.claims, result.messages)
        if not (result.claims or result.messages):  # others hold what is left (SKIP LOCKED): do not spin
            self._next_score_check = time.monotonic() + IDLE_SCORE_CHECK_SECONDS
            return False
        self._drift_due = True
        return True

    def _age(self) -> bool:
        """Once a day (and at start): open claims' priorities count today's wait (`core.triage`)."""
        today = clock.now().date()
        if self._aged_on == today:
            return False
        with self.sessions() as session, session.begin():
            aged = triage.age_priorities(session, actor=self.actor, today=today)
        self._aged_on = today
        if aged:
            log.info("aged the priority of %s open claims to %s", aged, today)
        return bool(aged)

    def _training_waits(self) -> bool:
        with self.sessions() as session:
            return jobs.has_queued_runs(session)

    def _explain(self) -> bool:
        return bool(
            explanations.explain_pending(self.sessions, actor=self.actor, models=self.models, limit=EXPLAIN_WHEN_IDLE)
        )

    def _seal(self) -> bool:
        """Seal the audit rows written since the last seal (`core.audit_chain`)."""
        with self.sessions() as session, session.begin():
            return audit_chain.seal(session) > 0

    def _drift(self) -> bool:
        if not self._drift_due:
            return False
        with self.sessions() as session:
            if scoring.pending(session):  # a report is stored for good: never write one from part of a window
                return False
        self._drift_due = False
        with self.sessions() as session, session.begin():
            result = run_drift(session, actor=self.actor, window="week")
        log.info("drift: %s new report(s), %s alert(s)", len(result.reports), result.alerts)
        webhook_error = notify(result)  # after the commit: a slow webhook must not hold the database
        if webhook_error:
            log.warning("%s", webhook_error)
        return bool(result.reports)


def serve(
    sessions: sessionmaker[Session], *, once: bool = False, poll_seconds: float = POLL_SECONDS
) -> list[RunOutcome]:
    """Claim and execute runs; with `once`, stop when the queue is empty."""
    worker_id = worker_identity()
    background = Background(sessions, worker_actor(worker_id), worker_id)
    outcomes: list[RunOutcome] = []
    current: dict[str, int | None] = {"run": None}

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise Stopped(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            with sessions() as session, session.begin():
                reaped = jobs.reap_stale_runs(session, actor=worker_actor(worker_id))
                run = jobs.claim_next_run(session, worker_id=worker_id)
                run_id = run.id if run else None
            for stale in reaped:
                log.warning("run %s had a dead worker; marked failed", stale)
            if run_id is None:
                if once:
                    return outcomes
                if not background.step():
                    time.sleep(poll_seconds)
                continue
            current["run"] = run_id
            log.info("run %s started", run_id)
            with _heartbeat(sessions, run_id):
                outcome = execute_run(sessions, run_id=run_id, actor=worker_actor(worker_id))
            current["run"] = None
            log.info("run %s %s", run_id, outcome.status)
            outcomes.append(outcome)
    except Stopped as reason:
        if current["run"] is not None:
            with sessions() as session, session.begin():
                jobs.finish_run(
                    session, actor=worker_actor(worker_id), run_id=current["run"], status=RunStatus.FAILED,
                    error=f"worker stopped by {reason}",
                )  # fmt: skip
        return outcomes
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

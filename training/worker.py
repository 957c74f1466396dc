"""`claimlens worker`: serve queued training runs until stopped.

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
from types import FrameType

from sqlalchemy.orm import Session, sessionmaker

from core import jobs
from core.auth import Actor, Role
from core.errors import ClaimLensError
from core.scoring import explain_pending
from training.run import RunOutcome, execute_run

log = logging.getLogger("claimlens.worker")
POLL_SECONDS = 2.0
HEARTBEAT_SECONDS = 30.0
EXPLAIN_WHEN_IDLE = 8  # explanations between two looks at the training queue


class Stopped(BaseException):  # not Exception: a run must not swallow it
    pass


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_actor(worker_id: str) -> Actor:
    # Runs are queued by a manager; the worker registers their results on the system's behalf.
    return Actor(username=f"worker:{worker_id}", role=Role.ADMIN)


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


def _explain_some(sessions: sessionmaker[Session], worker_id: str) -> int:
    """Idle time explains flagged claims that scoring left unexplained, highest priority first."""
    try:
        return explain_pending(sessions, actor=worker_actor(worker_id), limit=EXPLAIN_WHEN_IDLE)
    except ClaimLensError as error:  # e.g. the champion's folder is gone: say so, keep serving runs
        log.warning("cannot explain pending claims: %s", error)
        return 0


def serve(
    sessions: sessionmaker[Session], *, once: bool = False, poll_seconds: float = POLL_SECONDS
) -> list[RunOutcome]:
    """Claim and execute runs; with `once`, stop when the queue is empty."""
    worker_id = worker_identity()
    outcomes: list[RunOutcome] = []
    current: dict[str, int | None] = {"run": None}

    def stop(signum: int, _frame: FrameType | None) -> None:
        raise Stopped(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            with sessions() as session, session.begin():
                reaped = jobs.reap_stale_runs(session)
                run = jobs.claim_next_run(session, worker_id=worker_id)
                run_id = run.id if run else None
            for stale in reaped:
                log.warning("run %s had a dead worker; marked failed", stale)
            if run_id is None:
                if once:
                    return outcomes
                if not _explain_some(sessions, worker_id):
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
                jobs.finish_run(session, run_id=current["run"], status="failed", error=f"worker stopped by {reason}")
        return outcomes
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

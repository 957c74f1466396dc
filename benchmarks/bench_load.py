"""Load test: 20 simulated adjusters working the triage queue at once on PostgreSQL for
60 seconds (localhost only, bounded in count and time).

Each adjuster repeats what the app does for a person: load a page of the queue (random
filters), take the next claim, open it (audited view), and decide it (deny or approve with
a reason code). Latencies are reported at p50/p95 per action; afterwards every decision
an adjuster was told had landed must be in the database exactly once, and every error is
reported. Data: `--claims` scored claims filled with set-based SQL (benchmarks/bench_queue.py).

    .venv/bin/python -m benchmarks.bench_load [--postgres URL] [--claims 100000] [--adjusters 20] [--seconds 60]
"""

from __future__ import annotations

import argparse
import random
import statistics
import threading
import time
from collections import defaultdict

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.bench_queue import fill
from benchmarks.common import p95, scratch_postgres
from core import review, triage
from core.auth import Actor, Role
from db import migrate
from db.models import Review, User
from db.session import engine_for

LINES = ((), ("auto",), ("property",), ("health", "travel"))


def adjusters(sessions: sessionmaker[Session], count: int) -> list[Actor]:
    with sessions() as session, session.begin():
        users = [User(username=f"load-{i}", role="adjuster", is_active=True, failed_logins=0) for i in range(count)]
        session.add_all(users)
        session.flush()
        return [Actor(u.username, Role.ADJUSTER, u.id) for u in users]


def work(
    sessions: sessionmaker[Session],
    actor: Actor,
    until: float,
    timings: dict[str, list[float]],
    landed: list[int],
    errors: list[str],
    lock: threading.Lock,
) -> None:
    rng = random.Random(actor.user_id)

    def timed(name: str, action, **arguments):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        with sessions() as session, session.begin():
            result = action(session, actor=actor, **arguments)
        with lock:
            timings[name].append(1000 * (time.perf_counter() - started))
        return result

    while time.perf_counter() < until:
        try:
            filters = triage.QueueFilters(segments=(("line_of_business", rng.choice(LINES)),))
            timed("queue page", triage.queue, filters=filters, page=rng.randrange(3))
            taken = timed("take next", triage.take_next)
            if taken is None:
                break
            timed("open claim", review.claim_detail, claim_id=taken.claim_id)
            decision = rng.choice(("deny", "approve"))
            timed(
                "decide",
                review.decide,
                claim_id=taken.claim_id,
                expected_version=taken.version,
                decision=decision,
                reason_code=review.REASON_CODES[decision][0],
            )
            with lock:
                landed.append(taken.claim_id)
        except Exception as error:  # every failure is counted and printed
            with lock:
                errors.append(repr(error))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--adjusters", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    with scratch_postgres(args.postgres, "claimlens_load_") as url:
        migrate.upgrade(url)
        fill(engine_for(url), args.claims)
        engine = create_engine(url, pool_size=args.adjusters + 5)
        sessions = sessionmaker(bind=engine, expire_on_commit=False)
        actors = adjusters(sessions, args.adjusters)
        timings: dict[str, list[float]] = defaultdict(list)
        landed: list[int] = []
        errors: list[str] = []
        lock = threading.Lock()
        until = time.perf_counter() + args.seconds
        threads = [
            threading.Thread(target=work, args=(sessions, a, until, timings, landed, errors, lock)) for a in actors
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with sessions() as session:
            stored = session.scalar(
                select(func.count()).select_from(Review).where(Review.user_id.in_([a.user_id for a in actors]))
            )
            duplicates = session.scalar(
                select(func.count()).select_from(
                    select(Review.claim_id).group_by(Review.claim_id).having(func.count() > 1).subquery()
                )
            )
        print(f"{args.adjusters} adjusters, {args.seconds:.0f} s, PostgreSQL, {args.claims:,} claims")
        print(f"{'action':<12} {'count':>7} {'p50 ms':>8} {'p95 ms':>8}")
        for action, values in timings.items():
            high = p95(values, method="exclusive")
            print(f"{action:<12} {len(values):>7} {statistics.median(values):>8.1f} {high:>8.1f}")
        print(
            f"decisions reported landed: {len(landed)}, stored: {stored}, claims decided twice: {duplicates}, "
            f"errors: {len(errors)}"
        )
        for error in errors[:5]:
            print("  ", error)
        engine.dispose()


if __name__ == "__main__":
    main()

"""The adjusters' triage queue (`core.triage.queue` and `take_next`) over a million claims.

Target: every queue query (a page of 25, with or without filters) and "take next" in
under 100 ms with 1,000,000 scored claims, on SQLite and on PostgreSQL. The claims,
one champion prediction per claim and explanations for about half of the flagged ones
are filled with set-based SQL (a recursive CTE on SQLite, generate_series on
PostgreSQL), then ANALYZEd; each query runs once to warm up, then `--repeat` times
(at least 5 and at most about `--budget` seconds per query). "take next" runs in a
transaction that is rolled back, so every run sees the same data.

    .venv/bin/python -m benchmarks.bench_queue [--claims 1000000] [--backend sqlite|postgresql|both]
        [--sqlite-path PATH] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
        [--repeat 20] [--budget 15] [--index "predictions (model_version_id, priority DESC, id)"] [--explain] [--keep]

`--index` (repeatable) creates an extra index before measuring, to try a fix; `--explain`
prints the plan (EXPLAIN QUERY PLAN / EXPLAIN ANALYZE) of every query over the target;
`--keep` keeps the databases (SQLite: --sqlite-path, by default claimlens-bench-queue.db in
the system temporary folder) and a later run with the same --claims reuses them (on SQLite,
a run with --keep or the same --sqlite-path).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from benchmarks.common import p95, scratch_postgres
from core.auth import Actor, Role
from core.triage import QueueFilters, queue, take_next
from db import migrate
from db.models import Claim, ModelVersion, User
from db.session import engine_for

TARGET_MS = 100.0
MIN_REPEAT = 5
PG_DATABASE = "claimlens_bench_queue"
KEPT_SQLITE = Path(tempfile.gettempdir()) / "claimlens-bench-queue.db"  # the SQLite file --keep keeps
BENCH_INDEX_PREFIX = "bench_ix_"
ME, OTHER = "bench_adjuster_1", "bench_adjuster_2"
MONTH = (date(2025, 6, 1), date(2025, 6, 30))

LINES = ("auto", "property", "health", "travel")
REGIONS = ("north", "south", "east", "west", "central", "coastal", "highlands", "metro")
CHANNELS = ("web", "phone", "agent", "app")
POLICE = ("yes", "no", "unknown")
OPENINGS = (
    "Rear-ended at a junction;",
    "Water leaked from the flat upstairs;",
    "Luggage lost on a connecting flight;",
    "Slipped on ice outside the office;",
    "Storm damaged the roof;",
    "Phone stolen from a parked car;",
    "Hospital stay after a fall;",
    "Kitchen fire started by a pan;",
)
DETAILS = (  # one in sixteen mentions cash, so the text search has hits
    "the other party admitted fault.",
    "photos attached, repair estimate to follow.",
    "receipts for the replacement items attached.",
    "the claimant asks to be paid in cash.",
    "a witness saw it happen.",
    "the police were called to the scene.",
    "the claimant was abroad at the time.",
    "a neighbour reported the damage.",
    "the invoice from the garage is enclosed.",
    "the medical report is enclosed.",
    "the claimant asks for a quick settlement.",
    "damage is limited to the rear bumper.",
    "the airline confirmed the loss in writing.",
    "the landlord has been informed.",
    "first claim on this policy.",
    "the claimant changed address last month.",
)


@dataclass(frozen=True)
class Dialect:
    """The SQL fragments that differ between SQLite and PostgreSQL."""

    series: str  # a WITH clause head that defines s(i) for i in 1..n; ends ready for ", name AS ..."
    rint: Callable[[int], str]  # a uniform random integer in [0, k)
    runit: str  # a uniform random float in [0, 1)
    day: Callable[[str], str]  # 2024-01-01 plus an integer expression of days
    claim_number: str
    json: Callable[[str], str]  # a JSON literal
    json_object: str  # the function that builds a JSON object from key, value pairs


SQLITE = Dialect(
    series="WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n})",
    rint=lambda k: f"abs(random() % {k})",
    runit="(abs(random() % 1000000) / 1000000.0)",
    day=lambda days: f"date('2024-01-01', ({days}) || ' days')",
    claim_number="printf('CLM-%08d', i)",
    json=lambda value: f"'{value}'",
    json_object="json_object",
)
POSTGRES = Dialect(
    series="WITH s AS MATERIALIZED (SELECT i FROM generate_series(1, {n}) AS g(i))",
    rint=lambda k: f"floor(random() * {k})::int",
    runit="random()",
    day=lambda days: f"(DATE '2024-01-01' + ({days}))",
    claim_number="'CLM-' || lpad(i::text, 8, '0')",
    json=lambda value: f"CAST('{value}' AS json)",
    json_object="jsonb_build_object",
)


def pick(dialect: Dialect, options: tuple[str, ...]) -> str:
    whens = " ".join(f"WHEN {number} THEN '{option}'" for number, option in enumerate(options))
    return f"CASE {dialect.rint(len(options))} {whens} END"


def claims_sql(dialect: Dialect, claims: int, me_id: int, other_id: int) -> str:
    d = dialect
    # Random draws shared by several columns are materialized once per row.
    return f"""
        {d.series.format(n=claims)},
        r AS MATERIALIZED (
            SELECT i, {d.rint(731)} AS days, {d.rint(31)} AS lag, {d.rint(1500)} AS age,
                   {d.runit} AS st, {d.runit} AS asg, {d.runit} AS amt
            FROM s
        )
        INSERT INTO claims (
            claim_number, policy_number, incident_date, report_date, amount, fields, status, assigned_to_id, version
        )
        SELECT {d.claim_number}, 'POL-' || {d.rint(300000)}, {d.day("days - lag")}, {d.day("days")},
               CAST((200 + amt * amt * 60000) * 100 AS INTEGER) / 100.0,
               {d.json_object}(
                   'line_of_business', {pick(d, LINES)}, 'policy_start_date', {d.day("days - lag - 30 - age")},
                   'incident_hour', {d.rint(24)}, 'insured_value', CAST((5000 + amt * 150000) * 100 AS INTEGER) / 100.0,
                   'prior_claims', {d.rint(5)}, 'police_report', {pick(d, POLICE)}, 'witnesses', {d.rint(4)},
                   'region', {pick(d, REGIONS)}, 'channel', {pick(d, CHANNELS)}, 'claimant_name', 'Claimant ' || i,
                   'claimant_contact', 'claimant' || i || '@example.com',
                   'narrative', {pick(d, OPENINGS)} || ' ' || {pick(d, DETAILS)}
               ),
               CASE WHEN st < 0.85 THEN 'new' WHEN st < 0.95 THEN 'in_review' ELSE 'decided' END,
               CASE WHEN st < 0.85 THEN NULL WHEN asg < 0.01 THEN {me_id} ELSE {other_id} END,
               1
        FROM r
    """


def predictions_sql(dialect: Dialect, model_version_id: int) -> str:
    # ~8% high, ~15% medium, the rest low; priority in 0..100 mostly follows the probability.
    return f"""
        WITH r AS MATERIALIZED (
            SELECT id AS claim_id, {dialect.runit} AS u, {dialect.runit} AS v, {dialect.runit} AS w FROM claims
        ),
        p AS (
            SELECT claim_id, w,
                   CASE WHEN u < 0.08 THEN 'high' WHEN u < 0.23 THEN 'medium' ELSE 'low' END AS band,
                   CASE WHEN u < 0.08 THEN 0.7 + 0.3 * v WHEN u < 0.23 THEN 0.4 + 0.3 * v ELSE 0.4 * v END
                       AS probability
            FROM r
        )
        INSERT INTO predictions (claim_id, model_version_id, probability, band, priority, input_hash)
        SELECT claim_id, {model_version_id}, probability, band, 100 * (0.6 * probability + 0.4 * w), 'x' FROM p
    """


def explanations_sql(dialect: Dialect) -> str:
    # About half of the flagged predictions have an explanation.
    json = dialect.json
    return f"""
        INSERT INTO explanations (prediction_id, method, parameters, base_value, output_value, attributions, reasons)
        SELECT id, 'partition_shap', {json("{}")}, 0.1, probability, {json('{"fields": {}, "words": []}')},
               {json('["claimed amount is high: +0.10"]')}
        FROM predictions WHERE band IN ('high', 'medium') AND id % 2 = 0
    """


def fill(engine: Engine, claims: int) -> dict[str, float]:
    """Users, a champion model version, claims, predictions, explanations; ANALYZE. Seconds per stage."""
    postgres = engine.dialect.name == "postgresql"
    dialect = POSTGRES if postgres else SQLITE
    seconds: dict[str, float] = {}
    with Session(engine) as session, session.begin():
        me, other = User(username=ME, role="adjuster"), User(username=OTHER, role="adjuster")
        version = ModelVersion(task="claim_risk", version=1, stage="champion", artifact_path="x", base_model="x",
                               method="full", metrics={}, parameters={})  # fmt: skip
        session.add_all([me, other, version])
        session.flush()
        ids = me.id, other.id, version.id
    with engine.begin() as connection:
        if postgres:
            connection.execute(text("SET LOCAL synchronous_commit = off"))
            connection.execute(text("SELECT setseed(0.42)"))
        else:
            connection.execute(text("PRAGMA cache_size = -400000"))
        stages = {
            "claims": claims_sql(dialect, claims, ids[0], ids[1]),
            "predictions": predictions_sql(dialect, ids[2]),
            "explanations": explanations_sql(dialect),
        }
        for stage, sql in stages.items():
            started = time.perf_counter()
            connection.execute(text(sql))
            seconds[stage] = time.perf_counter() - started
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(text("ANALYZE"))
    seconds["analyze"] = time.perf_counter() - started
    engine.dispose()  # the fill's cache size does not carry over to the measured connections
    return seconds


def filled_claims(engine: Engine) -> int:
    try:
        with Session(engine) as session:
            if session.scalar(select(User.id).where(User.username == ME)) is None:
                return 0
            return session.scalar(select(func.count()).select_from(Claim)) or 0
    except (OperationalError, ProgrammingError):
        return 0


def ensure_filled(engine: Engine, claims: int) -> dict[str, float] | None:
    """Fill a migrated database with `claims` benchmark claims, or reuse them when it already holds as many.

    Seconds per fill stage, or None when reused; exits when it holds a different number of benchmark claims.
    """
    existing = filled_claims(engine)
    if existing == claims:
        return None
    if existing:
        where = engine.url.render_as_string(hide_password=True)
        raise SystemExit(f"{where} holds {existing} benchmark claims, not {claims}; remove it first")
    return fill(engine, claims)


def drop_bench_indexes(engine: Engine) -> None:
    listing = (
        "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'bench\\_ix\\_%'"
        if engine.dialect.name == "postgresql"
        else "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'bench\\_ix\\_%' ESCAPE '\\'"
    )
    with engine.begin() as connection:
        for (name,) in connection.execute(text(listing)).all():
            connection.execute(text(f"DROP INDEX {name}"))


def create_bench_indexes(engine: Engine, specs: list[str]) -> None:
    with engine.begin() as connection:
        for number, spec in enumerate(specs, start=1):
            started = time.perf_counter()
            connection.execute(text(f"CREATE INDEX {BENCH_INDEX_PREFIX}{number} ON {spec}"))
            connection.execute(text(f"ANALYZE {spec.split('(')[0].split()[0]}"))
            print(f"  created {BENCH_INDEX_PREFIX}{number} ON {spec} in {time.perf_counter() - started:.1f}s")
    engine.dispose()


def _narrative(engine: Engine) -> str:
    return "fields ->> 'narrative'" if engine.dialect.name == "postgresql" else "json_extract(fields, '$.narrative')"


def data_summary(engine: Engine, me_id: int) -> str:
    with engine.connect() as connection:
        bands = dict(connection.execute(text("SELECT band, count(*) FROM predictions GROUP BY band")).all())
        mine = connection.execute(
            text("SELECT count(*) FROM claims WHERE assigned_to_id = :me AND status IN ('new', 'in_review')"),
            {"me": me_id},
        ).scalar()
        cash = connection.execute(
            text(f"SELECT count(*) FROM claims WHERE {_narrative(engine)} LIKE '%cash%'")
        ).scalar()
        explained = connection.execute(text("SELECT count(*) FROM explanations")).scalar()
    return (
        f"  bands {bands}; explanations {explained}; narratives with 'cash' {cash}; open claims assigned to {ME} {mine}"
    )


@contextmanager
def captured_sql(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and parameters) that read predictions, while the block runs."""
    statements: list[tuple[str, Any]] = []

    def _capture(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "predictions" in statement:
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", _capture)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", _capture)


def plan(connection: Connection, statement: str, parameters: Any) -> str:
    if connection.dialect.name == "postgresql":
        rows = connection.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).all()
        return "\n".join(f"    {row[0]}" for row in rows)
    rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
    depth = {0: 0}
    lines = []
    for node, parent, _unused, detail in rows:
        depth[node] = depth.get(parent, 0) + 1
        lines.append(f"    {'  ' * depth[node]}{detail}")
    return "\n".join(lines)


@dataclass
class Result:
    query: str
    backend: str
    runs: int
    median_ms: float
    p95_ms: float
    rows: int
    sql: tuple[str, Any] | None


def measure(
    engine: Engine, backend: str, name: str, call: Callable[[Session], int], repeat: int, budget: float
) -> Result:
    def once() -> int:
        with Session(engine) as session:
            try:
                return call(session)
            finally:
                session.rollback()

    with captured_sql(engine) as statements:
        rows = once()  # warm-up
    times: list[float] = []
    started = time.perf_counter()
    while len(times) < repeat and (len(times) < MIN_REPEAT or time.perf_counter() - started < budget):
        begun = time.perf_counter()
        once()
        times.append((time.perf_counter() - begun) * 1000)
    sql = statements[-1] if statements else None
    return Result(name, backend, len(times), statistics.median(times), p95(times), rows, sql)


def queries(me: Actor) -> list[tuple[str, Callable[[Session], int]]]:
    def page_of(filters: QueueFilters, page: int = 0) -> Callable[[Session], int]:
        return lambda session: len(queue(session, actor=me, filters=filters, page=page, page_size=25).rows)

    def take(session: Session) -> int:
        return int(take_next(session, actor=me) is not None)  # the caller rolls back

    return [
        ("default, page 0", page_of(QueueFilters())),
        ("default, page 40", page_of(QueueFilters(), page=40)),
        ("line of business auto", page_of(QueueFilters(segments=(("line_of_business", ("auto",)),)))),
        ("band high", page_of(QueueFilters(bands=("high",)))),
        ("assigned to me", page_of(QueueFilters(assigned_to_me=True))),
        ("reported in June 2025", page_of(QueueFilters(reported_from=MONTH[0], reported_to=MONTH[1]))),
        ("search 'cash'", page_of(QueueFilters(search="cash"))),
        ("take_next (rolled back)", take),
    ]


def run_backend(backend: str, url: str, args: argparse.Namespace) -> list[Result]:
    print(f"{backend}: {make_url(url).render_as_string(hide_password=True)}")
    migrate.upgrade(url)
    engine = engine_for(url)
    seconds = ensure_filled(engine, args.claims)
    if seconds is None:
        print(f"  reusing {args.claims} claims already there")
        drop_bench_indexes(engine)
    else:
        stages = ", ".join(f"{stage} {value:.1f}s" for stage, value in seconds.items())
        print(f"  fill {args.claims} claims: {stages}; total {sum(seconds.values()):.1f}s")
    create_bench_indexes(engine, args.index)
    with Session(engine) as session:
        me_id = session.scalar(select(User.id).where(User.username == ME))
    assert me_id is not None
    print(data_summary(engine, me_id))
    me = Actor(username=ME, role=Role.ADJUSTER, user_id=me_id)
    results = []
    for name, call in queries(me):
        result = measure(engine, backend, name, call, args.repeat, args.budget)
        print(f"  {name:<26} median {result.median_ms:8.1f} ms  p95 {result.p95_ms:8.1f} ms  ({result.runs} runs)")
        results.append(result)
    if args.explain:
        for result in results:
            if result.p95_ms >= TARGET_MS and result.sql is not None:
                with engine.connect() as connection:
                    print(f"  plan of {result.query!r} on {backend}:\n{plan(connection, *result.sql)}")
                    connection.rollback()
    engine.dispose()
    return results


def print_table(results: list[Result]) -> None:
    header = f"{'query':<26} {'backend':<10} {'runs':>4} {'rows':>4} {'median ms':>10} {'p95 ms':>9}  under target"
    print(header)
    print("-" * len(header))
    for r in results:
        verdict = "yes" if r.p95_ms < TARGET_MS else ("median only" if r.median_ms < TARGET_MS else "NO")
        print(f"{r.query:<26} {r.backend:<10} {r.runs:>4} {r.rows:>4} {r.median_ms:>10.1f} {r.p95_ms:>9.1f}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--sqlite-path",
        type=Path,
        help=f"SQLite file (default: a temporary file, or {KEPT_SQLITE} with --keep)",
    )
    parser.add_argument(
        "--postgres",
        default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        help=f"server URL; the benchmark creates (or reuses) and drops the database {PG_DATABASE} on it",
    )
    parser.add_argument("--repeat", type=int, default=20, help="runs per query after one warm-up")
    parser.add_argument("--budget", type=float, default=15.0, help="seconds per query after which to stop (>= 5 runs)")
    parser.add_argument(
        "--index",
        action="append",
        default=[],
        metavar="TABLE (COLUMNS)",
        help="an extra index to try, e.g. 'predictions (model_version_id, priority DESC, id)'",
    )
    parser.add_argument("--explain", action="store_true", help="print the plan of every query over the target")
    parser.add_argument(
        "--keep",
        action="store_true",
        help=f"keep the databases for a later run to reuse (SQLite: --sqlite-path, by default {KEPT_SQLITE})",
    )
    args = parser.parse_args()

    started = time.perf_counter()
    results: list[Result] = []
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            path = args.sqlite_path or (KEPT_SQLITE if args.keep else Path(folder) / "bench_queue.db")
            try:
                results += run_backend("sqlite", f"sqlite:///{path}", args)
            finally:
                if not args.keep:
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{path}{suffix}").unlink(missing_ok=True)
    if args.backend in ("postgresql", "both"):
        with scratch_postgres(args.postgres, PG_DATABASE, reuse=True, keep=args.keep) as url:
            results += run_backend("postgresql", url, args)

    print()
    print_table(results)
    print(f"total {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()

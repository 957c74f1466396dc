"""The `claimlens` command line (also `python -m service`).

Commands parse arguments, open one transaction per action and call into `core/`;
user mistakes end in a one-line message and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import os
import time
import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from typer.core import TyperGroup

from core.errors import ClaimLensError
from core.tasks import Task
from db.models import RunStatus


class _FriendlyErrors(TyperGroup):
    """Turns a user's mistake anywhere below into one red line and exit code 1."""

    def invoke(self, ctx: Any) -> Any:  # click.Context (typer re-exports click under its own name)
        try:
            return super().invoke(ctx)
        except ClaimLensError as error:
            _fail(str(error))
        except _database_errors() as error:
            _fail(_database_problem(error))
        except OSError as error:  # a file or folder the command was pointed at
            where = f": {error.filename}" if error.filename else ""
            _fail(f"{error.strerror or error}{where}")


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(1) from None


def _database_errors() -> tuple[type[BaseException], ...]:
    from sqlalchemy.exc import DBAPIError  # deferred: most commands' --help should not import SQLAlchemy

    return (DBAPIError,)


def _database_problem(error: BaseException) -> str:
    """One line: which database, what it said, and what to check."""
    from sqlalchemy.engine import make_url

    from core.config import get_settings

    url = make_url(get_settings().database_url)
    said = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
    if url.get_backend_name() == "sqlite":
        hint = (
            "check that the file and its folder are readable and writable, and that no -wal or -shm file "
            "beside it belongs to another (deleted or replaced) database"
        )
    else:
        hint = "check that the server is running and reachable and that DATABASE_URL is right"
    return f"database {url.render_as_string(hide_password=True)}: {said}; {hint}"


app = typer.Typer(
    cls=_FriendlyErrors,
    help="ClaimLens: claims review and model monitoring.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Local user accounts.", no_args_is_help=True)
models_app = typer.Typer(help="Model registry: list, promote, roll back.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(models_app, name="models")
audit_app = typer.Typer(help="The audit log's hash chain: verify, checkpoint.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
schema_app = typer.Typer(
    help="The claim schema: draft one from a file, check a file against one.", no_args_is_help=True
)
app.add_typer(schema_app, name="schema")

PASSWORD_ENV = "CLAIMLENS_PASSWORD"
PROGRESS_EVERY_S = 10.0  # scoring progress lines: often enough to see it move, few enough to read
PHASE_UNITS = {"encoding": "text", "training": "step", "evaluating": "stage"}  # a training run's counted phases


def fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    app_role: Annotated[
        str | None,
        typer.Option(
            help="PostgreSQL: then create or update this login role for the app and worker (see SECURITY.md)."
        ),
    ] = None,
) -> None:
    """Bring the configured database to the latest schema (SQLite or PostgreSQL), as its owner."""
    from core.config import get_settings
    from db import migrate, roles

    url = get_settings().database_url
    try:
        migrate.upgrade(url, revision)
    except migrate.MigrationRefused as refused:
        raise ClaimLensError(f"the database was left at revision {migrate.current_revision(url)}: {refused}") from None
    typer.echo(f"database at revision {migrate.current_revision(url)}")
    if app_role:
        try:
            roles.grant_app_role(url, app_role, os.environ.get(PASSWORD_ENV))
        except roles.RoleRefused as refused:
            raise ClaimLensError(str(refused)) from None
        typer.echo(f"role {app_role}: reads and writes the data, only inserts into the audit tables, owns nothing")


# Options `generate` and `seed` share: the generator's world.
Claims = Annotated[int, typer.Option(min=1, help="Number of claims.")]
Scenario = Annotated[str, typer.Option(help="baseline | storm_surge | new_fraud_ring")]
Start = Annotated[str | None, typer.Option(help="First report date (YYYY-MM-DD); default --end - 364 days.")]
End = Annotated[str | None, typer.Option(help="Last report date (YYYY-MM-DD); default today (UTC).")]
FraudRate = Annotated[float, typer.Option(help="Share of claims labelled fraud.")]
LiveBook = Annotated[
    bool, typer.Option(help="Close the claims a department would have settled by --end, as in a live book.")
]


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Output file: .csv or .parquet.")],
    claims: Claims = 5000,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same data.")] = 7,
    scenario: Scenario = "baseline",
    start: Start = None,
    end: End = None,
    fraud_rate: FraudRate = 0.08,
    live_book: LiveBook = True,
) -> None:
    """Write a synthetic claims file in the import format."""
    from core.data import seeding

    config = _generator_config(claims, seed, scenario, start, end, fraud_rate, live_book)
    started = time.perf_counter()
    frame = seeding.generate_import_frame(config)
    seeding.write_frame(frame, out)
    typer.echo(f"wrote {len(frame)} claims to {out} in {time.perf_counter() - started:.1f}s")


@app.command()
def seed(
    claims: Claims = 5000,
    scenario: Scenario = "baseline",
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same claim numbers.")] = 7,
    start: Start = None,
    end: End = None,
    fraud_rate: FraudRate = 0.08,
    live_book: LiveBook = True,
) -> None:
    """Generate claims and load them into the database (claims already there are skipped)."""
    from core.auth import cli_actor
    from core.data import seeding
    from db.session import session_scope

    config = _generator_config(claims, seed, scenario, start, end, fraud_rate, live_book)
    started = time.perf_counter()
    with session_scope() as session:
        result = seeding.seed(session, actor=cli_actor(), config=config)
    typer.echo(
        f"seeded {result.imported} claims and {result.messages} messages "
        f"({result.skipped_existing} already present) in {time.perf_counter() - started:.1f}s"
    )


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file in the import format.")],
    skip_invalid: Annotated[bool, typer.Option(help="Import valid rows; write rejected rows to a file.")] = False,
    rejected: Annotated[Path | None, typer.Option(help="Where rejected rows go (with --skip-invalid).")] = None,
) -> None:
    """Validate a claims file and import it whole, or nothing (see README: Import format)."""
    from core.auth import cli_actor
    from core.data import importing
    from db.session import session_scope

    try:
        with session_scope() as session:  # one transaction for every chunk of the file
            result, report = importing.import_file(session, actor=cli_actor(), path=file, skip_invalid=skip_invalid)
    except importing.ImportRejected as error:
        for row_error in error.errors:
            typer.echo(f"row {row_error.row}, column {row_error.column}: {row_error.reason}", err=True)
        if error.total_invalid > len(error.errors):
            typer.echo(f"... and more; {error.total_invalid} invalid rows in all", err=True)
        fail(f"{error} (use --skip-invalid to import the valid rows)")
        return
    if report.rejected_rows:
        target = rejected or file.with_name(f"{file.stem}.rejected.csv")
        importing.write_rejected(target, report)
        typer.echo(f"{result.rejected} rejected row(s) written with their reasons to {target}")
    typer.echo(
        f"imported {result.imported} claims, {result.messages} messages; {result.skipped_existing} already present"
    )


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Login name.")],
    role: Annotated[str, typer.Option(help="adjuster | compliance | manager | admin")],
    temporary: Annotated[
        bool, typer.Option(help="A first password for someone else: they choose their own at the first sign-in.")
    ] = False,
) -> None:
    """Create a local user; the password comes from a prompt or $CLAIMLENS_PASSWORD."""
    from core import accounts, auth
    from db.session import session_scope

    parsed_role = auth.parse_role(role)
    password = os.environ.get(PASSWORD_ENV) or typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    with session_scope() as session:
        user = accounts.create_user(
            session, actor=auth.cli_actor(), username=username, role=parsed_role, password=password,
            must_change_password=temporary,
        )  # fmt: skip
    then = "; they choose their own password at the first sign-in" if temporary else ""
    typer.echo(f"created {parsed_role} {user.username}{then}")


@users_app.command("demo")
def users_demo(
    credentials: Annotated[Path, typer.Option(help="Where the demo passwords are kept (owner-only file).")] = Path(
        "data/demo-credentials.txt"
    ),
) -> None:
    """Create one demo user per role with random passwords, and print the credentials."""
    from core import accounts, auth
    from db.session import session_scope

    with session_scope() as session:
        created = accounts.create_demo_users(session, actor=auth.cli_actor())
    if created:  # a recreated database gets new passwords: they replace the old lines
        lines = credentials.read_text(encoding="utf-8").splitlines() if credentials.is_file() else []
        known = dict(line.split(" ", 1) for line in lines if " " in line)
        known.update(created)
        credentials.parent.mkdir(parents=True, exist_ok=True)
        credentials.touch(mode=0o600)
        credentials.chmod(0o600)
        credentials.write_text("".join(f"{user} {password}\n" for user, password in known.items()), encoding="utf-8")
    if credentials.is_file():
        typer.echo(f"Demo sign-ins (username password), kept in {credentials}:")
        typer.echo(credentials.read_text(encoding="utf-8").rstrip())
    else:
        typer.echo("The demo users already exist; their passwords were printed when they were created.")


class PhaseBars:
    """`claimlens train`'s progress: one bar per phase of the run (texts encoded, steps
    trained, evaluation stages), each timed from its own start, so a rate or ETA never
    mixes encoding time into training. A phase that ends early (early stopping) ends full."""

    def __init__(self, label: str, file: TextIO | None = None) -> None:
        self.label, self.file = label, file
        self.phase: str | None = None
        self.bar = None  # tqdm.tqdm | None

    def __call__(self, progress) -> None:  # type: ignore[no-untyped-def]  # training.loop.Progress
        from tqdm import tqdm

        if progress.phase != self.phase:
            self.close(finished=True)  # a new phase starts only when the last one is done
            self.phase = progress.phase
            unit = PHASE_UNITS.get(progress.phase)
            if unit is not None:
                desc = f"{self.label} {progress.phase}"
                self.bar = tqdm(total=progress.total, unit=unit, desc=desc, file=self.file)
        if self.bar is None:
            return
        self.bar.total = progress.total
        if progress.phase == "training":
            best = "-" if progress.best_metric is None else f"{progress.best_metric:.3f}"
            loss = "-" if progress.loss is None else f"{progress.loss:.4f}"
            self.bar.set_postfix_str(f"epoch {progress.epoch}/{progress.epochs}, loss {loss}, best {best}", False)
        elif progress.stage:
            self.bar.set_postfix_str(progress.stage, False)
        self.bar.update(progress.done - self.bar.n)
        if progress.done >= progress.total:
            self.bar.refresh()

    def close(self, *, finished: bool) -> None:
        """End the current bar: full when its phase finished, where it stood otherwise."""
        if self.bar is None:
            return
        if finished:
            self.bar.update(self.bar.total - self.bar.n)
        self.bar.close()
        self.bar = None


@app.command()
def train(
    task: Annotated[str, typer.Argument(help="claim | sentiment")],
    method: Annotated[str | None, typer.Option(help="full | lora | head (default: the profile's)")] = None,
    profile: Annotated[str, typer.Option(help="quick (CPU demo) | full (GPU)")] = "quick",
    base_model: Annotated[str | None, typer.Option(help="Local HF model folder or hub id.")] = None,
    since: Annotated[str | None, typer.Option(help="First report date of the data window.")] = None,
    until: Annotated[str | None, typer.Option(help="Last report date of the data window.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size per process.")] = None,
    max_train_samples: Annotated[int | None, typer.Option(help="Cap on training rows (newest kept).")] = None,
    unless_champion: Annotated[bool, typer.Option(help="Do nothing if the task already has a champion.")] = False,
) -> None:
    """Train a model in the foreground; the first model of a task becomes champion if it passes the gate."""
    from core import jobs, registry
    from core.auth import cli_actor
    from core.run_spec import TrainingConfig
    from db.models import ModelVersion
    from db.session import get_sessionmaker, session_scope
    from training.run import execute_run

    config = TrainingConfig.for_profile(
        _task(task),
        profile,
        method,
        base_model=base_model,
        epochs=epochs,
        batch_size=batch_size,
        max_train_samples=max_train_samples,
        since=_date(since),
        until=_date(until),
    )
    actor = cli_actor()
    with session_scope() as session:
        current = registry.champion(session, config.task)
        if unless_champion and current is not None:
            typer.echo(f"{config.task} already has a champion (v{current.version}); not training")
            return
        run = jobs.queue_run(session, actor=actor, config=config.to_dict())
        jobs.claim_run(session, run_id=run.id, worker_id="cli")
        run_id = run.id
    bars = PhaseBars(f"{config.task} run {run_id}")
    outcome = execute_run(get_sessionmaker(), run_id=run_id, actor=actor, on_progress=bars)
    bars.close(finished=outcome.status == RunStatus.SUCCEEDED)
    if outcome.status != RunStatus.SUCCEEDED:
        fail(f"run {run_id} {outcome.status}: {outcome.error}")
    typer.echo(f"run {run_id} registered {config.task} v{outcome.version}: {_metrics_line(outcome.summary or {})}")
    if outcome.promoted:
        typer.echo(f"{config.task} v{outcome.version} is now the champion")
        return
    with session_scope() as session:  # say why not, and what to do: otherwise `score` finds no model
        version = session.get(ModelVersion, outcome.model_version_id)
        champion = registry.champion(session, config.task)
        assert version is not None
        gate = registry.evaluate_gate(version, champion, registry.GateSettings.configured())
    serving = f"v{champion.version} keeps serving" if champion else "no model serves yet"
    typer.echo(f"{config.task} v{outcome.version} was not promoted ({serving}): {'; '.join(gate.reasons)}")
    typer.echo(f'to promote it anyway: claimlens models promote {outcome.model_version_id} --override-reason "..."')


@app.command()
def score(
    all_open: Annotated[
        bool, typer.Option("--all", help="Rescore open claims (refresh bands and priorities).")
    ] = False,
    explain_limit: Annotated[int | None, typer.Option(help="Explain at most this many flagged claims now.")] = None,
    chunk_size: Annotated[
        int | None, typer.Option(min=1, help="Rows per chunk and transaction [default: 512 on CPU, 8192 on GPU].")
    ] = None,
    drift_after: Annotated[bool, typer.Option("--drift/--no-drift", help="Run the drift report afterwards.")] = True,
    limit: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Score about this many claims and messages (whole chunks, open claims first), "
            "leaving the rest to the worker.",
        ),
    ] = None,
) -> None:
    """Score every claim and message the champions have not scored (open claims first); explain high/medium claims."""
    from core import scoring
    from core.auth import cli_actor
    from db.session import get_sessionmaker

    # Rates count from the end of the first chunk (model loading comes before it), and for
    # later kinds from the previous kind's last chunk.
    started: dict[str, tuple[float, int]] = {}
    last_shown: dict[str, float] = {}
    previous: list[float] = []

    def show(kind: str, count: int) -> None:
        """A progress line per kind at most every PROGRESS_EVERY_S seconds, with the rate so far."""
        now = time.perf_counter()
        since, baseline = started.setdefault(kind, (previous[0], 0) if previous else (now, count))
        previous[:] = [now]
        if now - last_shown.get(kind, 0.0) < PROGRESS_EVERY_S:
            return
        last_shown[kind] = now
        rate = f" ({(count - baseline) / (now - since):,.1f}/s)" if now > since else ""
        typer.echo(f"  {kind}: {count:,}{rate}")

    result = scoring.score(
        get_sessionmaker(),
        actor=cli_actor(),
        rescore_open=all_open,
        explain_limit=explain_limit,
        chunk_size=chunk_size,
        on_chunk=show,
        limit=limit,
    )
    typer.echo(
        f"scoring run {result.run_id}: {result.claims} claims, {result.messages} messages, "
        f"{result.explanations} explanations in {result.seconds:.1f}s"
    )
    if drift_after and limit is not None:
        typer.echo("drift reports wait until every claim is scored: the worker writes them")
    elif drift_after:
        try:
            _drift("week", None)
        except ClaimLensError as error:  # scoring succeeded; say why monitoring could not run
            typer.secho(f"drift report skipped: {error}", fg=typer.colors.YELLOW, err=True)


def _drift(window: str, max_windows: int | None) -> None:
    from core.auth import cli_actor
    from core.monitoring.alerting import notify
    from core.monitoring.report import run_drift
    from db.session import session_scope

    started = time.perf_counter()
    with session_scope() as session:
        result = run_drift(session, actor=cli_actor(), window=window, max_windows=max_windows)
    typer.echo(
        f"drift: reference {result.reference_start} .. {result.reference_end}, {len(result.reports)} new "
        f"{window} report(s), {result.alerts} alert(s) in {time.perf_counter() - started:.1f}s"
    )
    for report in result.reports:
        for alert in report.alerts:
            typer.secho(f"  ALERT {report.window_start} .. {report.window_end}: {alert}", fg=typer.colors.YELLOW)
    webhook_error = notify(result)  # after the commit: a slow webhook must not hold the database
    if webhook_error:
        typer.secho(f"  {webhook_error}", fg=typer.colors.RED, err=True)


@app.command()
def drift(
    window: Annotated[str, typer.Option(help="day | week")] = "week",
    max_windows: Annotated[int | None, typer.Option(help="Report at most this many new windows.")] = None,
) -> None:
    """Compare each new window of claims with the champion's training window; store reports and alerts."""
    _drift(window, max_windows)


@app.command()
def worker(
    once: Annotated[bool, typer.Option(help="Exit when the queue is empty.")] = False,
) -> None:
    """Serve training runs queued in the database (from the dashboard) until stopped."""
    import logging

    from db.session import get_sessionmaker
    from service.worker import serve

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    outcomes = serve(get_sessionmaker(), once=once)
    typer.echo(f"worker stopped after {len(outcomes)} run(s)")


@models_app.command("list")
def models_list(task: Annotated[str | None, typer.Option(help="claim | sentiment")] = None) -> None:
    """Registered model versions, newest first."""
    from core import registry
    from core.auth import cli_actor
    from db.session import session_scope

    with session_scope() as session:
        for version in registry.overview(session, actor=cli_actor(), task=_task(task) if task else None):
            typer.echo(
                f"{version.id:>4}  {version.task:<10} v{version.version:<3} {version.stage:<11} "
                f"{version.method:<5} {_metrics_line(version.summary)}"
            )


@models_app.command("promote")
def models_promote(
    version_id: Annotated[int, typer.Argument(help="Model version id (see `models list`).")],
    override_reason: Annotated[
        str | None, typer.Option(help="Promote despite a failed gate, with this reason.")
    ] = None,
) -> None:
    """Make a version champion if it passes the gate against the current champion."""
    from core import registry
    from core.auth import cli_actor
    from db.session import session_scope

    with session_scope() as session:
        result = registry.promote(session, actor=cli_actor(), version_id=version_id, override_reason=override_reason)
    typer.echo("promoted" + (" (gate overridden: " + "; ".join(result.reasons) + ")" if result.reasons else ""))


@models_app.command("rollback")
def models_rollback(
    task: Annotated[str, typer.Argument(help="claim | sentiment")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")],
) -> None:
    """Restore the champion that the current one replaced."""
    from core import registry
    from core.auth import cli_actor
    from db.session import session_scope

    with session_scope() as session:
        restored = registry.rollback(session, actor=cli_actor(), task=_task(task), reason=reason)
        typer.echo(f"{restored.task} v{restored.version} is champion again")


def _task(value: str) -> Task:
    try:
        return Task.parse(value)
    except ValueError as error:
        raise ClaimLensError(str(error)) from None


def _date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ClaimLensError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _metrics_line(summary: Mapping[str, float | None]) -> str:
    return " ".join(f"{k}={v:.3f}" if v is not None else f"{k}=n/a" for k, v in summary.items())


def _generator_config(  # type: ignore[no-untyped-def]
    claims: int, seed: int, scenario: str, start: str | None, end: str | None, fraud_rate: float, live_book: bool
):
    from core.data.generator import GeneratorConfig
    from core.data.seeding import demo_calendar

    first, last = demo_calendar(_date(end))  # by default the demo's year, ending today
    try:
        return GeneratorConfig(
            claims=claims,
            seed=seed,
            scenario=scenario,  # type: ignore[arg-type]
            start=_date(start) or first,
            end=last,
            fraud_rate=fraud_rate,
            live_book=live_book,
        )
    except ValueError as error:
        raise ClaimLensError(str(error)) from None


@audit_app.command("verify")
def audit_verify(
    seal: Annotated[bool, typer.Option(help="Seal the rows written since the last seal first.")] = True,
) -> None:
    """Recompute the audit log's hash chain; name the first row changed, deleted or slipped in."""
    from core import audit_chain
    from core.auth import cli_actor
    from db.session import session_scope

    if seal:
        with session_scope() as session:
            sealed = audit_chain.seal(session)
        typer.echo(f"sealed {sealed:,} new row(s)")
    with session_scope() as session:
        check = audit_chain.verify(session, actor=cli_actor())
    typer.echo(check.summary())
    if not check.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[Path, typer.Option(help="Where to write the signed checkpoint (keep it off this machine).")],
) -> None:
    """Write the chain's latest link, signed with $CLAIMLENS_AUDIT_CHECKPOINT_KEY."""
    from core import audit_chain
    from core.auth import cli_actor
    from core.config import get_settings
    from db.session import session_scope

    key = get_settings().audit_checkpoint_key
    if not key:
        raise ClaimLensError("set CLAIMLENS_AUDIT_CHECKPOINT_KEY to sign checkpoints")
    with session_scope() as session:
        audit_chain.seal(session)
    with session_scope() as session:
        saved = audit_chain.checkpoint(session, actor=cli_actor(), key=key)
    out.write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")
    typer.echo(f"checkpoint of row {saved['last_row']} ({saved['rows']:,} rows) written to {out}")


@audit_app.command("check-checkpoint")
def audit_check_checkpoint(saved: Annotated[Path, typer.Argument(help="A checkpoint file written earlier.")]) -> None:
    """Check that the database still carries a checkpoint an auditor kept."""
    from core import audit_chain
    from core.auth import cli_actor
    from core.config import get_settings
    from db.session import session_scope

    key = get_settings().audit_checkpoint_key
    if not key:
        raise ClaimLensError("set CLAIMLENS_AUDIT_CHECKPOINT_KEY (the key the checkpoint was signed with)")
    try:
        kept = json.loads(saved.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ClaimLensError(f"{saved}: not a checkpoint file ({error})") from None
    with session_scope() as session:
        problem = audit_chain.check_checkpoint(session, actor=cli_actor(), saved=kept, key=key)
    if problem:
        raise ClaimLensError(problem)
    typer.echo(f"the database still carries the checkpoint of row {kept['last_row']}")


SchemaOption = Annotated[
    Path | None, typer.Option("--schema", help="A schema TOML file; default: the active one (CLAIMLENS_SCHEMA).")
]


@schema_app.command("infer")
def schema_infer(
    file: Annotated[Path, typer.Argument(help="A CSV or Parquet file of the insurer's claims.")],
    claim_number: Annotated[str, typer.Option("--id", help="The claim-number column.")],
    reported: Annotated[str, typer.Option("--date", help="The column of the day each claim was reported.")],
    label: Annotated[str | None, typer.Option("--label", help="The fraud-label column, if the file has one.")] = None,
    text: Annotated[
        list[str] | None, typer.Option("--text", help="A free-text column the model reads (repeat for several).")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the draft here instead of printing it.")] = None,
    name: Annotated[str, typer.Option(help="The schema's name.")] = "my claims",
) -> None:
    """Draft a schema from a file: every guess commented, for a person to check and edit."""
    from core import schema
    from core.data import schema_draft

    frame = schema_draft.read_sample(file)
    drafted = schema_draft.draft(frame, claim_number=claim_number, reported=reported, label=label,
                                 text=text or (), name=name)  # fmt: skip
    schema.from_mapping(tomllib.loads(drafted), where="the draft")  # a draft that does not load is a bug here
    if out is None:
        typer.echo(drafted, nl=False)
        return
    if out.exists():
        fail(f"{out} exists; choose another --out or remove it")
    out.write_text(drafted, encoding="utf-8")
    typer.echo(f"drafted {out} from {len(frame):,} rows; check its comments, then: claimlens schema check {file} "
               f"--schema {out}")  # fmt: skip


@schema_app.command("check")
def schema_check(
    file: Annotated[Path, typer.Argument(help="A CSV or Parquet file of claims.")],
    schema_file: SchemaOption = None,
) -> None:
    """Validate a file against a schema and report every invalid row, writing nothing."""
    from core import schema
    from core.data import importing

    chosen = schema.load(schema_file) if schema_file else schema.active_schema()
    checked = importing.check_file(file, schema=chosen)
    for row_error in checked.errors:
        typer.echo(f"row {row_error.row}, column {row_error.column}: {row_error.reason}", err=True)
    if checked.invalid > len(checked.errors):
        typer.echo(f"... and more; {checked.invalid} invalid rows in all", err=True)
    if checked.invalid:
        fail(f"{checked.invalid} of {checked.rows:,} row(s) invalid under schema {chosen.name!r}")
    typer.echo(f"all {checked.rows:,} rows valid under schema {chosen.name!r}")


def main() -> None:
    app(prog_name="claimlens")

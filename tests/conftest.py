"""Shared fixtures: a fresh, migrated database per test on SQLite and on PostgreSQL.

PostgreSQL runs when CLAIMLENS_TEST_POSTGRES_URL names a server (CI always sets it);
each test gets its own database cloned from a migrated template, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core import throttle
from db import migrate
from db.session import engine_for, reset_caches

POSTGRES_ENV = "CLAIMLENS_TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgresql")


def postgres_server_url() -> str | None:
    return os.environ.get(POSTGRES_ENV)


def _admin_engine():  # type: ignore[no-untyped-def]
    url = postgres_server_url()
    assert url
    return create_engine(url, isolation_level="AUTOCOMMIT")


def _pg_url_for(database: str) -> str:
    url = make_url(postgres_server_url() or "")
    return url.set(database=database).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One migrated database per backend, copied for every test (migrating each time is slow)."""
    templates: dict[str, str] = {}
    sqlite_path = tmp_path_factory.mktemp("template") / "template.db"
    migrate.upgrade(f"sqlite:///{sqlite_path}")
    templates["sqlite"] = str(sqlite_path)
    pg_template = None
    if postgres_server_url():
        pg_template = f"claimlens_tpl_{uuid.uuid4().hex[:10]}"
        with _admin_engine().connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{pg_template}"'))
        migrate.upgrade(_pg_url_for(pg_template))
        templates["postgresql"] = pg_template
    reset_caches()  # close pooled connections: PostgreSQL cannot copy a template in use
    yield templates
    reset_caches()
    if pg_template:
        with _admin_engine().connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{pg_template}" WITH (FORCE)'))


@pytest.fixture(autouse=True)
def fresh_sign_in_throttles(monkeypatch: pytest.MonkeyPatch) -> None:
    """The throttles live in the server's memory: each test starts with none of another's
    failures (its databases reuse the same user ids)."""
    monkeypatch.setattr(throttle, "SIGN_INS", throttle.SourceThrottle())
    monkeypatch.setattr(throttle, "ADMINISTRATOR_DELAYS", throttle.AdministratorDelays())


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not postgres_server_url():
        if os.environ.get("CI"):
            pytest.fail(f"{POSTGRES_ENV} must be set in CI")
        pytest.skip(f"{POSTGRES_ENV} not set")
    return request.param


@pytest.fixture
def database_url(backend: str, database_templates: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """A fresh database at the head revision, on the backend under test."""
    if backend == "sqlite":
        path = tmp_path / "claimlens.db"
        shutil.copy(database_templates["sqlite"], path)
        yield f"sqlite:///{path}"
        reset_caches()
        return
    name = f"claimlens_t_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine()
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{database_templates["postgresql"]}"'))
    yield _pg_url_for(name)
    reset_caches()
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def configured_database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point the app's settings (CLI, pages) at the test database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    reset_caches()
    yield database_url
    reset_caches()


@pytest.fixture
def session(database_url: str) -> Iterator[Session]:
    """A session whose transaction the test owns, like a caller in the app would."""
    with Session(engine_for(database_url), expire_on_commit=False) as session:
        yield session


@pytest.fixture(scope="session")
def tiny_base_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A randomly initialised 2-layer BERT with the real MiniLM tokenizer, saved as a local folder."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from core.modeling.encoder import default_base_model

    folder = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(default_base_model())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=256,
    )  # fmt: skip
    BertModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture
def model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("CLAIMLENS_MODEL_DIR", str(folder))
    reset_caches()
    return folder


DEMO_PASSWORD = "demo-password-1"
DEMO_USERS = {"adjuster": "ada", "adjuster2": "abe", "compliance": "cora", "manager": "max", "admin": "root"}


def train_tiny(sessions, base_model: str, task: str, epochs: int = 2, **overrides):  # type: ignore[no-untyped-def]
    """Queue, claim and run one quick training run of a tiny model, as the worker would."""
    from core import jobs
    from core.auth import cli_actor
    from core.run_spec import TrainingConfig
    from training.run import execute_run

    config = TrainingConfig.for_profile(task, "quick", base_model=base_model, epochs=epochs, max_length=64, **overrides)
    with sessions() as session, session.begin():
        run = jobs.queue_run(session, actor=cli_actor(), config=config.to_dict())
        jobs.claim_run(session, run_id=run.id, worker_id="test")
    return execute_run(sessions, run_id=run.id, actor=cli_actor())


def _build_scored_world(url: str, model_dir: Path, base_model: str) -> None:
    """Seed 300 claims, train tiny claim and sentiment champions, score, explain the
    flagged claims, and create one user per role (plus a second adjuster)."""
    from sqlalchemy.orm import sessionmaker

    from core import accounts, scoring
    from core.auth import Role, cli_actor
    from core.data.generator import GeneratorConfig
    from core.data.seeding import seed

    admin = cli_actor()
    sessions = sessionmaker(bind=engine_for(url), expire_on_commit=False)
    with sessions() as session, session.begin():
        seed(session, actor=admin, config=GeneratorConfig(claims=300, seed=12))
        for key, username in DEMO_USERS.items():
            role = Role(key.rstrip("2"))
            accounts.create_user(session, actor=admin, username=username, role=role, password=DEMO_PASSWORD)
    for task in ("claim_risk", "sentiment"):
        assert train_tiny(sessions, base_model, task).promoted
    scoring.score(sessions, actor=admin, explain_limit=40, device="cpu")


@pytest.fixture(scope="session")
def scored_templates(
    database_templates: dict[str, str], tiny_base_model: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, tuple[str, Path]]]:
    """Per backend, built on first use: a scored database to copy and its model folder."""
    built: dict[str, tuple[str, Path]] = {}

    def build(backend: str) -> tuple[str, Path]:
        if backend not in built:
            folder = tmp_path_factory.mktemp(f"scored-{backend}")
            model_dir = folder / "models"
            previous = os.environ.get("CLAIMLENS_MODEL_DIR")
            os.environ["CLAIMLENS_MODEL_DIR"] = str(model_dir)
            reset_caches()
            try:
                if backend == "sqlite":
                    path = folder / "scored.db"
                    shutil.copy(database_templates["sqlite"], path)
                    _build_scored_world(f"sqlite:///{path}", model_dir, tiny_base_model)
                    built[backend] = (str(path), model_dir)
                else:
                    name = f"claimlens_scored_{uuid.uuid4().hex[:10]}"
                    with _admin_engine().connect() as connection:
                        connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{database_templates[backend]}"'))
                    _build_scored_world(_pg_url_for(name), model_dir, tiny_base_model)
                    built[backend] = (name, model_dir)
            finally:
                os.environ.pop("CLAIMLENS_MODEL_DIR") if previous is None else os.environ.update(
                    CLAIMLENS_MODEL_DIR=previous
                )
                reset_caches()  # PostgreSQL cannot copy a template that has open connections
        return built[backend]

    yield build  # type: ignore[misc]
    if "postgresql" in built:
        with _admin_engine().connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{built["postgresql"][0]}" WITH (FORCE)'))


@pytest.fixture
def scored_database(
    backend: str,
    scored_templates,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> Iterator[str]:
    """A fresh copy of the scored world, with the app's settings pointed at it."""
    source, model_dir = scored_templates(backend)
    monkeypatch.setenv("CLAIMLENS_MODEL_DIR", str(model_dir))
    if backend == "sqlite":
        path = tmp_path / "claimlens.db"
        shutil.copy(source, path)
        url = f"sqlite:///{path}"
    else:
        name = f"claimlens_t_{uuid.uuid4().hex[:12]}"
        with _admin_engine().connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
        url = _pg_url_for(name)
    monkeypatch.setenv("DATABASE_URL", url)
    reset_caches()
    yield url
    reset_caches()
    if backend != "sqlite":
        with _admin_engine().connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


T = TypeVar("T")


def run_at_once(target: Callable[[int], T], n: int, timeout: float = 120) -> tuple[dict[int, T], list[BaseException]]:
    """Call `target(0) .. target(n - 1)` on n threads released together; their results by
    index, and whatever they raised (a thread's exception would otherwise vanish)."""
    start = threading.Barrier(n)
    results: dict[int, T] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait(timeout=30)
            results[i] = target(i)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    return results, errors


@pytest.fixture
def world(database_url: str, model_dir: Path, tiny_base_model: str) -> sessionmaker[Session]:
    """300 claims with messages, and tiny claim and sentiment champions."""
    from core.auth import cli_actor
    from core.data.generator import GeneratorConfig
    from core.data.seeding import seed

    sessions = sessionmaker(bind=engine_for(database_url), expire_on_commit=False)
    with sessions() as session, session.begin():
        seed(session, actor=cli_actor(), config=GeneratorConfig(claims=300, seed=12))
    for task in ("claim_risk", "sentiment"):
        outcome = train_tiny(sessions, tiny_base_model, task)
        assert outcome.promoted, outcome
    return sessions


def count(sessions: sessionmaker[Session], model: type, *where) -> int:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0

"""The `claimlens` command line, run as a user would (against each backend)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from db import migrate
from db.models import Claim, Message, User
from db.session import reset_caches, session_scope
from service.cli import app

runner = CliRunner()


def generate_with_bad_line(path: Path, claims: int, bad_rows: list[int]) -> None:
    assert claimlens("generate", "--claims", str(claims), "--out", str(path)).exit_code == 0
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.loc[bad_rows, "line_of_business"] = "boats"
    frame.to_csv(path, index=False)


def claimlens(*args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args), env=env)


def stored(model: type) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize("command", [[], ["db"], ["users"], ["generate"], ["seed"], ["import"], ["db", "upgrade"]])
def test_every_command_has_help(command: list[str]) -> None:
    result = claimlens(*command, "--help")
    assert result.exit_code == 0 and "Usage" in result.output


def test_db_upgrade_is_idempotent(configured_database: str) -> None:
    for _ in range(2):
        result = claimlens("db", "upgrade")
        assert result.exit_code == 0, result.output
        assert f"revision {migrate.head_revision()}" in result.output


def test_seed_twice_does_not_duplicate(configured_database: str) -> None:
    first = claimlens("seed", "--claims", "120", "--scenario", "storm_surge")
    assert first.exit_code == 0, first.output
    messages = stored(Message)
    second = claimlens("seed", "--claims", "120", "--scenario", "storm_surge")
    assert "120 already present" in second.output
    assert stored(Claim) == 120 and stored(Message) == messages > 0


def test_generate_then_import_round_trips(configured_database: str, tmp_path: Path) -> None:
    out = tmp_path / "claims.csv"
    assert claimlens("generate", "--claims", "80", "--seed", "9", "--out", str(out)).exit_code == 0
    result = claimlens("import", str(out))
    assert result.exit_code == 0, result.output
    assert "imported 80 claims" in result.output
    assert stored(Claim) == 80


def test_import_of_a_bad_file_reports_rows_and_writes_nothing(configured_database: str, tmp_path: Path) -> None:
    out = tmp_path / "claims.csv"
    generate_with_bad_line(out, 20, [0])
    result = claimlens("import", str(out))
    assert result.exit_code == 1
    assert "row 1, column line_of_business" in result.output
    assert "nothing was imported" in result.output
    assert stored(Claim) == 0


def test_import_skip_invalid_writes_the_rejects(configured_database: str, tmp_path: Path) -> None:
    out = tmp_path / "claims.csv"
    generate_with_bad_line(out, 10, [2])
    result = claimlens("import", str(out), "--skip-invalid")
    assert result.exit_code == 0, result.output
    assert stored(Claim) == 9
    assert (tmp_path / "claims.rejected.csv").exists()


def test_import_of_a_missing_or_junk_file_is_one_line(configured_database: str, tmp_path: Path) -> None:
    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(range(256)) * 10)
    for path in (junk, tmp_path / "absent.csv"):
        result = claimlens("import", str(path))
        assert result.exit_code == 1
        assert result.output.count("\n") == 1 and "error:" in result.output
        assert "Traceback" not in result.output


def test_users_add_hashes_the_password_and_rejects_bad_roles(configured_database: str) -> None:
    result = claimlens("users", "add", "maria", "--role", "adjuster", env={"CLAIMLENS_PASSWORD": "s3cret-enough"})
    assert result.exit_code == 0, result.output
    with session_scope() as session:
        user = session.scalars(select(User)).one()
        assert user.role == "adjuster" and "s3cret" not in (user.password_hash or "")
    bad = claimlens("users", "add", "bob", "--role", "boss", env={"CLAIMLENS_PASSWORD": "s3cret-enough"})
    assert bad.exit_code == 1 and "unknown role" in bad.output


def test_generate_rejects_an_unknown_scenario(tmp_path: Path) -> None:
    result = claimlens("generate", "--scenario", "apocalypse", "--out", str(tmp_path / "x.csv"))
    assert result.exit_code == 1 and "unknown scenario" in result.output


def test_users_demo_creates_one_user_per_role_once_with_working_random_passwords(
    configured_database: str, tmp_path: Path
) -> None:
    from core import accounts

    credentials = tmp_path / "demo-credentials.txt"
    credentials.write_text("manager password-of-a-database-since-deleted\nanalyst kept-as-it-was\n")
    first = claimlens("users", "demo", "--credentials", str(credentials))
    assert first.exit_code == 0, first.output
    pairs = dict(line.split() for line in credentials.read_text().splitlines())
    assert pairs.pop("analyst") == "kept-as-it-was"  # a line for another user stays; the stale one is replaced
    assert set(pairs) == {"adjuster", "compliance", "manager", "admin"}
    assert len(set(pairs.values())) == 4 and all(len(p) >= 12 for p in pairs.values())
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"
    again = claimlens("users", "demo", "--credentials", str(credentials))
    assert again.exit_code == 0 and stored(User) == 4
    assert credentials.read_text().count("\n") == 5
    with session_scope() as session:
        for username, password in pairs.items():
            result = accounts.authenticate(session, username=username, password=password)
            assert result.ok and result.actor.role.value == username  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "url",
    ["sqlite:///{tmp}/a-folder", "postgresql+psycopg://claimlens:secret@127.0.0.1:1/claimlens", "sqlite:///{tmp}/x.db"],
    ids=["folder", "no server", "damaged file"],
)
def test_a_database_that_cannot_be_used_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "x.db").write_bytes(b"not a database, whatever its name says " * 200)
    url = url.format(tmp=tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)
    reset_caches()
    result = claimlens("db", "upgrade")
    reset_caches()
    assert result.exit_code == 1 and "Traceback" not in result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: database ") and "secret" not in line

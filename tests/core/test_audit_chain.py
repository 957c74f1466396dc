"""The audit log's hash chain: every tampering the triggers cannot stop (a database owner
dropping or disabling them) is found by `verify`, named by its row; checkpoints kept
elsewhere catch a chain rewritten wholesale."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from core import audit, audit_chain
from core.auth import Actor, Role

COMPLIANCE = Actor("cora", Role.COMPLIANCE, 3)
KEY = "an auditor's key, kept elsewhere"


@pytest.fixture
def sealed(session: Session) -> list[int]:
    """Five audited actions, sealed."""
    with session.begin():
        entries = [
            audit.record(
                session,
                actor=Actor("ada", Role.ADJUSTER, 1),
                action="claim.viewed",
                entity_type="claim",
                entity_id=i,
                details={"claim_number": f"CLM-{i}", "amount": 1250.5},
            )
            for i in range(5)
        ]
        session.flush()
        assert audit_chain.seal(session) == 5
        return [e.id for e in entries]


def verify(session: Session) -> audit_chain.ChainCheck:
    with session.begin():
        return audit_chain.verify(session, actor=COMPLIANCE)


def as_owner(session: Session, backend: str, *statements: str) -> None:
    """What the database's owner can do: switch the append-only triggers off, tamper, switch them on."""
    with session.begin():
        if backend == "postgresql":
            session.execute(text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            for name in ("audit_log_no_update", "audit_log_no_delete", "audit_log_no_replace"):
                session.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        for statement in statements:
            session.execute(text(statement))
        if backend == "postgresql":
            session.execute(text("ALTER TABLE audit_log ENABLE TRIGGER USER"))


def test_an_untouched_log_verifies_and_says_up_to_which_row(session: Session, sealed: list[int]) -> None:
    with session.begin():
        audit.record(session, actor=COMPLIANCE, action="audit.searched", entity_type="audit_log")
    check = verify(session)
    assert check.ok and (check.verified_up_to, check.checked, check.unsealed) == (sealed[-1], 5, 1)
    assert check.summary().startswith(f"chain verified up to row {sealed[-1]} (5 rows) at ")


TAMPERING: dict[str, tuple[Callable[[list[int]], list[str]], int, str]] = {
    "update": (lambda ids: [f"UPDATE audit_log SET actor = 'mallory' WHERE id = {ids[1]}"], 1, "changed"),
    "delete": (lambda ids: [f"DELETE FROM audit_log WHERE id = {ids[2]}"], 2, "deleted"),
    "replace": (
        lambda ids: [
            f"DELETE FROM audit_log WHERE id = {ids[3]}",
            "INSERT INTO audit_log (id, at, actor, actor_role, action, entity_type, details) "
            f"VALUES ({ids[3]}, CURRENT_TIMESTAMP, 'mallory', 'admin', 'claim.viewed', 'claim', '{{}}')",
        ],
        3,
        "changed",
    ),
}


@pytest.mark.parametrize("how", TAMPERING)
def test_tampering_by_the_databases_owner_is_found_and_named(
    session: Session, sealed: list[int], backend: str, how: str
) -> None:
    statements, row, reason = TAMPERING[how]
    as_owner(session, backend, *statements(sealed))
    check = verify(session)
    assert not check.ok and check.broken_at == sealed[row] and reason in (check.reason or "")
    assert check.verified_up_to == sealed[row - 1]  # the rows before still hold


def test_a_row_slipped_in_between_sealed_ones_is_found(session: Session, sealed: list[int], backend: str) -> None:
    with session.begin():
        late = audit.record(session, actor=COMPLIANCE, action="claim.viewed", entity_type="claim")
        late.id = sealed[-1] + 10  # leave a gap that an insert can fill later
    with session.begin():
        audit_chain.seal(session)
    as_owner(
        session, backend,
        "INSERT INTO audit_log (id, at, actor, actor_role, action, entity_type, details) "
        f"VALUES ({sealed[-1] + 5}, CURRENT_TIMESTAMP, 'mallory', 'admin', 'user.created', 'user', '{{}}')",
    )  # fmt: skip
    check = verify(session)
    assert check.broken_at == sealed[-1] + 5 and "added inside the sealed range" in (check.reason or "")


def test_a_checkpoint_kept_elsewhere_catches_a_chain_rewritten_wholesale(
    session: Session, sealed: list[int], backend: str
) -> None:
    with session.begin():
        kept = audit_chain.checkpoint(session, actor=COMPLIANCE, key=KEY)
        assert audit_chain.check_checkpoint(session, actor=COMPLIANCE, saved=kept, key=KEY) is None
    # The owner rewrites a row and the whole chain after it, so that `verify` passes again.
    as_owner(session, backend, f"UPDATE audit_log SET actor = 'mallory' WHERE id = {sealed[0]}")
    with session.begin():
        session.execute(
            text("DROP TRIGGER IF EXISTS audit_chain_no_delete")
        ) if backend == "sqlite" else session.execute(text("ALTER TABLE audit_chain DISABLE TRIGGER USER"))
        session.execute(text("DELETE FROM audit_chain"))
        audit_chain.seal(session)
    assert verify(session).ok  # the chain alone cannot tell ...
    with session.begin():
        problem = audit_chain.check_checkpoint(session, actor=COMPLIANCE, saved=kept, key=KEY)
        edited = audit_chain.check_checkpoint(session, actor=COMPLIANCE, saved={**kept, "rows": 1}, key=KEY)
    assert problem is not None and "rewritten" in problem  # ... the auditor's checkpoint can
    assert edited is not None and "signature does not match" in edited


def test_only_roles_that_read_the_audit_log_verify_it(session: Session) -> None:
    from core.errors import PermissionDenied

    with pytest.raises(PermissionDenied), session.begin():
        audit_chain.verify(session, actor=Actor("max", Role.MANAGER, 4))


def test_the_cli_verifies_seals_and_fails_on_a_broken_chain(
    configured_database: str, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from core.config import get_settings
    from db.session import get_sessionmaker, session_scope
    from service.cli import app

    with session_scope() as session:
        audit.record(session, actor=COMPLIANCE, action="claim.viewed", entity_type="claim", entity_id=1)
    runner = CliRunner()
    first = runner.invoke(app, ["audit", "verify"])
    assert first.exit_code == 0 and "sealed 1 new row(s)" in first.output and "chain verified up to row" in first.output
    monkeypatch.setenv("CLAIMLENS_AUDIT_CHECKPOINT_KEY", KEY)
    get_settings.cache_clear()
    kept = tmp_path / "checkpoint.json"
    assert runner.invoke(app, ["audit", "checkpoint", "--out", str(kept)]).exit_code == 0
    assert runner.invoke(app, ["audit", "check-checkpoint", str(kept)]).exit_code == 0
    with get_sessionmaker()() as session:
        as_owner(session, session.get_bind().dialect.name, "UPDATE audit_log SET action = 'nothing.happened'")
    broken = runner.invoke(app, ["audit", "verify", "--no-seal"])
    assert broken.exit_code == 1 and "chain broken at row" in broken.output
    get_settings.cache_clear()

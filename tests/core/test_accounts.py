"""Sign-in, lockout, session expiry, and the administrator's changes to users."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import accounts
from core.auth import Actor, Role
from core.errors import InvalidInput, PermissionDenied
from db.models import AuditLog, User

ADMIN = Actor(username="root-admin", role=Role.ADMIN)
PASSWORD = "correct horse battery"


@pytest.fixture
def ada(session: Session) -> User:
    with session.begin():
        return accounts.create_user(session, actor=ADMIN, username="ada", role=Role.ADJUSTER, password=PASSWORD)


def sign_in(session: Session, password: str, username: str = "ada") -> accounts.LoginResult:
    with session.begin():
        return accounts.authenticate(session, username=username, password=password)


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditLog.action).order_by(AuditLog.id)))


def test_the_right_password_signs_in_and_is_audited(session: Session, ada: User) -> None:
    result = sign_in(session, PASSWORD)
    assert result.ok and result.actor == Actor("ada", Role.ADJUSTER, ada.id)
    assert actions(session)[-1] == "login.succeeded"


def test_wrong_user_and_wrong_password_get_the_same_message(session: Session, ada: User) -> None:
    assert sign_in(session, "nope nope nope").message == sign_in(session, PASSWORD, username="nobody").message
    assert actions(session)[-2:] == ["login.failed", "login.failed"]


def test_repeated_failures_lock_the_account_even_against_the_right_password(
    session: Session, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(5):
        assert not sign_in(session, "wrong password!").ok
    locked = sign_in(session, PASSWORD)
    assert not locked.ok and locked.message == accounts.WRONG_CREDENTIALS  # strangers learn nothing
    with session.begin():
        last = session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
        assert last is not None and last.details["reason"] == "locked"  # the log knows why
    with session.begin():
        ada.locked_until = datetime.now(UTC) - timedelta(seconds=1)  # the lockout has passed
    assert sign_in(session, PASSWORD).ok


def test_disabled_users_cannot_sign_in_or_resume(session: Session, ada: User) -> None:
    signed_in_at = datetime.now(UTC)
    with session.begin():
        assert accounts.resume(session, user_id=ada.id, signed_in_at=signed_in_at) is not None
        accounts.set_active(session, actor=ADMIN, user_id=ada.id, active=False)
    assert "disabled" in sign_in(session, PASSWORD).message
    assert accounts.resume(session, user_id=ada.id, signed_in_at=signed_in_at) is None


def test_sessions_expire(session: Session, ada: User) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=9)
    assert accounts.resume(session, user_id=ada.id, signed_in_at=long_ago) is None


def test_role_changes_and_password_resets_are_audited_without_the_password(session: Session, ada: User) -> None:
    with session.begin():
        accounts.change_role(session, actor=ADMIN, user_id=ada.id, role=Role.COMPLIANCE)
        accounts.reset_password(session, actor=ADMIN, user_id=ada.id, password="another long one")
    assert sign_in(session, "another long one").actor.role == Role.COMPLIANCE  # type: ignore[union-attr]
    entries = session.scalars(select(AuditLog).where(AuditLog.action.like("user.%"))).all()
    assert [e.action for e in entries] == ["user.created", "user.role_changed", "user.password_reset"]
    assert entries[1].details == {"before": {"role": "adjuster"}, "after": {"role": "compliance"}}
    assert all("another long one" not in str(e.details) and PASSWORD not in str(e.details) for e in entries)


def test_the_last_administrator_cannot_be_disabled_or_demoted(session: Session) -> None:
    with session.begin():
        root = accounts.create_user(session, actor=ADMIN, username="root", role=Role.ADMIN, password=PASSWORD)
    with session.begin(), pytest.raises(InvalidInput, match="last active administrator"):
        accounts.set_active(session, actor=ADMIN, user_id=root.id, active=False)
    with session.begin(), pytest.raises(InvalidInput, match="last active administrator"):
        accounts.change_role(session, actor=ADMIN, user_id=root.id, role=Role.MANAGER)


@pytest.mark.parametrize("role", [Role.ADJUSTER, Role.COMPLIANCE, Role.MANAGER])
def test_only_administrators_manage_users(session: Session, ada: User, role: Role) -> None:
    someone = Actor("someone", role, 99)
    for change in (
        lambda: accounts.list_users(session, actor=someone),
        lambda: accounts.set_active(session, actor=someone, user_id=ada.id, active=False),
        lambda: accounts.change_role(session, actor=someone, user_id=ada.id, role=Role.ADMIN),
        lambda: accounts.reset_password(session, actor=someone, user_id=ada.id, password="0123456789"),
    ):
        with pytest.raises(PermissionDenied):
            change()


def test_single_sign_on_maps_a_known_email_to_its_user(session: Session) -> None:
    with session.begin():
        accounts.create_user(
            session, actor=ADMIN, username="max", role=Role.MANAGER, password=PASSWORD, email="Max@Insurer.example"
        )
    with session.begin():
        assert accounts.authenticate_email(session, email="max@insurer.example").actor.username == "max"  # type: ignore[union-attr]
        assert not accounts.authenticate_email(session, email="eve@elsewhere.example").ok


def test_an_email_already_in_use_is_a_clear_error(session: Session) -> None:
    with session.begin():
        accounts.create_user(
            session, actor=ADMIN, username="max", role=Role.MANAGER, password=PASSWORD, email="max@insurer.example"
        )
    with session.begin(), pytest.raises(InvalidInput, match="already has the e-mail"):
        accounts.create_user(
            session, actor=ADMIN, username="max2", role=Role.MANAGER, password=PASSWORD, email="MAX@insurer.example"
        )

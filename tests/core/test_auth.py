"""Local accounts: hashed passwords, validation, permission to manage users, audit."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import accounts, auth
from core.auth import Actor, Permission, Role
from core.errors import InvalidInput, PermissionDenied
from db.models import AuditLog, User

ADMIN = Actor(username="root-admin", role=Role.ADMIN)


def test_created_user_has_a_hashed_password_and_an_audit_entry(session: Session) -> None:
    with session.begin():
        accounts.create_user(session, actor=ADMIN, username="maria", role=Role.ADJUSTER, password="correct horse")
    user = session.scalars(select(User)).one()
    assert user.password_hash and "correct horse" not in user.password_hash
    assert auth.verify_password(user.password_hash, "correct horse")
    assert not auth.verify_password(user.password_hash, "wrong horse!")
    entry = session.scalars(select(AuditLog)).one()
    assert (entry.actor, entry.action, entry.details["role"]) == ("root-admin", "user.created", "adjuster")
    assert "correct horse" not in str(entry.details)


@pytest.mark.parametrize("role", [Role.ADJUSTER, Role.COMPLIANCE, Role.MANAGER])
def test_only_admins_create_users(session: Session, role: Role) -> None:
    with pytest.raises(PermissionDenied), session.begin():
        accounts.create_user(
            session, actor=Actor("x", role), username="eve", role=Role.ADMIN, password="a test passphrase"
        )
    assert session.scalars(select(User)).all() == []


@pytest.mark.parametrize(
    ("username", "password", "message"),
    [
        ("bad name!", "a test passphrase", "username"),
        ("ok", "short", "at least"),
        ("", "a test passphrase", "username"),
    ],
)
def test_bad_usernames_and_short_passwords_are_refused(
    session: Session, username: str, password: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message), session.begin():
        accounts.create_user(session, actor=ADMIN, username=username, role=Role.ADJUSTER, password=password)


def test_duplicate_username_is_refused(session: Session) -> None:
    with session.begin():
        accounts.create_user(session, actor=ADMIN, username="sam", role=Role.MANAGER, password="a test passphrase")
    with pytest.raises(InvalidInput, match="already exists"), session.begin():
        accounts.create_user(session, actor=ADMIN, username="sam", role=Role.ADMIN, password="a test passphrase")


def test_permission_table_covers_every_role() -> None:
    assert set(auth.ROLE_PERMISSIONS) == set(Role)
    assert auth.ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)
    assert not Actor("a", Role.ADJUSTER).may(Permission.IMPORT_CLAIMS)
    with pytest.raises(InvalidInput, match="unknown role"):
        auth.parse_role("boss")

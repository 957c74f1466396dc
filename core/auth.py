"""Roles, permissions, the acting user, and local accounts with hashed passwords.

The table of which role may do what lives here and only here; every core function that
writes (or reads PII) calls `require(actor, permission)` before touching the database.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.errors import InvalidInput, PermissionDenied
from db.models import User


class Role(StrEnum):
    ADJUSTER = "adjuster"
    COMPLIANCE = "compliance"
    MANAGER = "manager"
    ADMIN = "admin"


class Permission(StrEnum):
    IMPORT_CLAIMS = "claims.import"
    MANAGE_USERS = "users.manage"
    VIEW_PII = "claims.view_pii"
    TRAIN_MODELS = "models.train"
    PROMOTE_MODELS = "models.promote"
    RUN_SCORING = "scoring.run"
    EXPLAIN = "claims.explain"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADJUSTER: frozenset({Permission.VIEW_PII, Permission.EXPLAIN}),
    Role.COMPLIANCE: frozenset({Permission.VIEW_PII, Permission.EXPLAIN}),
    Role.MANAGER: frozenset(
        {
            Permission.IMPORT_CLAIMS,
            Permission.TRAIN_MODELS,
            Permission.PROMOTE_MODELS,
            Permission.RUN_SCORING,
            Permission.EXPLAIN,
        }
    ),
    Role.ADMIN: frozenset(Permission),
}

MIN_PASSWORD_LENGTH = 10
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Actor:
    """Who is acting: a logged-in user, or the operator running the CLI."""

    username: str
    role: Role
    user_id: int | None = None

    def may(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]


def cli_actor() -> Actor:
    """The operator at the shell: trusted like an admin, named in the audit log."""
    return Actor(username=f"cli:{getpass.getuser()}", role=Role.ADMIN)


def require(actor: Actor, permission: Permission) -> None:
    if not actor.may(permission):
        raise PermissionDenied(f"{actor.username} ({actor.role}) may not {permission.value}")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except Exception:  # argon2 raises several mismatch/invalid-hash types; all mean "no"
        return False


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput(f"unknown role {value!r}; choose one of {', '.join(Role)}") from None


def create_user(session: Session, *, actor: Actor, username: str, role: Role, password: str) -> User:
    require(actor, Permission.MANAGE_USERS)
    username = username.strip()
    if not username or len(username) > 64 or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise InvalidInput("username must be 1-64 letters, digits, '.', '_' or '-'")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise InvalidInput(f"user {username!r} already exists")
    user = User(username=username, role=role.value, password_hash=hash_password(password), is_active=True)
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.created",
        entity_type="user",
        entity_id=user.id,
        details={"username": username, "role": role.value},
    )
    return user

"""Roles, permissions, the acting user, and password hashing.

The table of which role may do what lives here and only here; every core function that
writes (or reads PII) calls `require(actor, permission)` before touching the database.
Accounts (login, lockout, user administration) live in `core.accounts`.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher

from core.errors import InvalidInput, PermissionDenied


class Role(StrEnum):
    ADJUSTER = "adjuster"
    COMPLIANCE = "compliance"
    MANAGER = "manager"
    ADMIN = "admin"


class Permission(StrEnum):
    VIEW_CLAIMS = "claims.view"  # claim fields, predictions, explanations, decisions
    VIEW_PII = "claims.view_pii"  # claimant name and contact unmasked
    REVIEW_CLAIMS = "claims.review"  # work the triage queue: take, assign, decide
    EXPLAIN = "claims.explain"  # compute an explanation on demand
    IMPORT_CLAIMS = "claims.import"
    VIEW_AUDIT = "audit.view"
    VIEW_MODELS = "models.view"  # registry, model cards, global explanations
    VIEW_MONITORING = "monitoring.view"
    TRAIN_MODELS = "models.train"
    PROMOTE_MODELS = "models.promote"
    RUN_SCORING = "scoring.run"
    MANAGE_USERS = "users.manage"


# The one table of who may do what (README "Roles and permissions" mirrors it).
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADJUSTER: frozenset(
        {Permission.VIEW_CLAIMS, Permission.VIEW_PII, Permission.REVIEW_CLAIMS, Permission.EXPLAIN}
    ),
    Role.COMPLIANCE: frozenset(
        {Permission.VIEW_CLAIMS, Permission.VIEW_PII, Permission.EXPLAIN, Permission.VIEW_AUDIT, Permission.VIEW_MODELS}
    ),
    Role.MANAGER: frozenset(
        {
            Permission.VIEW_CLAIMS,
            Permission.EXPLAIN,
            Permission.IMPORT_CLAIMS,
            Permission.VIEW_MODELS,
            Permission.VIEW_MONITORING,
            Permission.TRAIN_MODELS,
            Permission.PROMOTE_MODELS,
            Permission.RUN_SCORING,
        }
    ),
    Role.ADMIN: frozenset(Permission),
}

_hasher = PasswordHasher()


@dataclass(frozen=True)
class Actor:
    """Who is acting: a logged-in user, or the operator running the CLI."""

    username: str
    role: Role
    user_id: int | None = None
    must_change_password: bool = False  # an administrator set it: the user chooses their own first

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

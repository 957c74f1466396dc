"""Local accounts: creating users, signing in (with lockout), resuming a signed-in
session, and the administrator's changes to users. Every change is audited.

Sign-in never says whether a username exists: a wrong username and a wrong password get
the same message, and both count against the account when it exists.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core import audit
from core.auth import MIN_PASSWORD_LENGTH, Actor, Permission, Role, hash_password, require, verify_password
from core.clock import now
from core.config import get_settings
from core.errors import InvalidInput, NotFound
from db.models import User

# One message for every refusal, so that a stranger learns nothing about which accounts
# exist or are locked (the audit log records the real reason).
WRONG_CREDENTIALS = (
    "Wrong username or password. After repeated failures an account is locked for a while; "
    "an administrator can unlock it."
)


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a sign-in attempt; `actor` is set only on success."""

    actor: Actor | None
    message: str

    @property
    def ok(self) -> bool:
        return self.actor is not None


@dataclass(frozen=True)
class UserRow:
    id: int
    username: str
    role: str
    email: str | None
    is_active: bool
    locked: bool
    last_login_at: datetime | None


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands timestamps back without a zone; everything we store is UTC.
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def actor_for(user: User) -> Actor:
    return Actor(username=user.username, role=Role(user.role), user_id=user.id)


def _check_username(username: str) -> str:
    username = username.strip()
    if not username or len(username) > 64 or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise InvalidInput("username must be 1-64 letters, digits, '.', '_' or '-'")
    return username


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD_LENGTH} characters")


def create_user(
    session: Session, *, actor: Actor, username: str, role: Role, password: str, email: str | None = None
) -> User:
    require(actor, Permission.MANAGE_USERS)
    username = _check_username(username)
    _check_password(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise InvalidInput(f"user {username!r} already exists")
    email = (email or "").strip().lower() or None
    if email and session.scalar(select(User.id).where(func.lower(User.email) == email)) is not None:
        raise InvalidInput(f"another user already has the e-mail {email}")
    user = User(
        username=username,
        role=role.value,
        password_hash=hash_password(password),
        email=email,
        is_active=True,
        failed_logins=0,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.created",
        entity_type="user",
        entity_id=user.id,
        details={"username": username, "role": role.value, "email": email},
    )
    return user


def _refuse(session: Session, name: str, user: User | None, message: str, **details: object) -> LoginResult:
    """Audit a failed sign-in (by the name that was typed) and say why, as the user may hear it."""
    audit.record(
        session,
        actor=None,
        anonymous_name=name,
        action="login.failed",
        entity_type="user",
        entity_id=user.id if user else None,
        details=details,
    )
    return LoginResult(None, message)


def authenticate(session: Session, *, username: str, password: str) -> LoginResult:
    """Check a username and password. Failures are counted and audited, so the caller
    must commit the transaction whatever the result."""
    settings = get_settings()
    user = session.scalar(select(User).where(User.username == username.strip()[:64]).with_for_update())
    if user is None:
        return _refuse(session, username, None, WRONG_CREDENTIALS, reason="unknown user")
    locked_until = _aware(user.locked_until)
    if locked_until is not None and locked_until > now():
        return _refuse(
            session, user.username, user, WRONG_CREDENTIALS, reason="locked", locked_until=locked_until.isoformat()
        )
    if not user.password_hash or not verify_password(user.password_hash, password):
        # Counted in SQL: concurrent guesses must not overwrite each other's count.
        session.execute(update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1))
        session.refresh(user, ["failed_logins"])
        details: dict[str, object] = {"reason": "wrong password", "failures": user.failed_logins}
        if user.failed_logins >= settings.login_max_failures:
            user.locked_until = now() + timedelta(minutes=settings.login_lockout_minutes)
            user.failed_logins = 0
            details["locked_until"] = user.locked_until.isoformat()
        return _refuse(session, user.username, user, WRONG_CREDENTIALS, **details)
    if not user.is_active:
        return _refuse(
            session, user.username, user, "This account is disabled; ask an administrator.", reason="disabled"
        )
    user.failed_logins, user.locked_until = 0, None
    return _signed_in(session, user)


def authenticate_email(session: Session, *, email: str) -> LoginResult:
    """Sign-in through the identity provider (`st.login`): the verified e-mail must belong
    to an active user; the provider has already checked the password."""
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or not user.is_active:
        message = f"No active ClaimLens user has the e-mail {email}; ask an administrator."
        return _refuse(session, email, None, message, reason="no active user with this e-mail", method="oidc")
    return _signed_in(session, user, method="oidc")


def _signed_in(session: Session, user: User, **details: str) -> LoginResult:
    user.last_login_at = now()
    actor = actor_for(user)
    audit.record(session, actor=actor, action="login.succeeded", entity_type="user", entity_id=user.id, details=details)
    return LoginResult(actor, f"Signed in as {user.username} ({user.role}).")


def resume(session: Session, *, user_id: int, signed_in_at: datetime) -> Actor | None:
    """The actor behind a signed-in browser session, read afresh on every page so that a
    disabled user, a changed role or an expired session takes effect at once."""
    if now() - (_aware(signed_in_at) or now()) > timedelta(hours=get_settings().session_hours):
        return None
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        return None
    return actor_for(user)


def list_users(session: Session, *, actor: Actor) -> list[UserRow]:
    require(actor, Permission.MANAGE_USERS)
    users = session.scalars(select(User).order_by(User.username))
    moment = now()
    return [
        UserRow(
            u.id,
            u.username,
            u.role,
            u.email,
            u.is_active,
            bool(u.locked_until and _aware(u.locked_until) > moment),
            _aware(u.last_login_at),
        )
        for u in users
    ]


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


def _keep_an_admin(session: Session, user: User) -> None:
    """Refuse a change that would leave nobody able to manage users."""
    if user.role != Role.ADMIN.value:
        return
    others = session.scalar(
        select(func.count()).where(User.role == Role.ADMIN.value, User.is_active.is_(True), User.id != user.id)
    )
    if not others:
        raise InvalidInput(f"{user.username} is the last active administrator")


def set_active(session: Session, *, actor: Actor, user_id: int, active: bool) -> User:
    require(actor, Permission.MANAGE_USERS)
    user = _user(session, user_id)
    if not active:
        _keep_an_admin(session, user)
    before = user.is_active
    user.is_active = active
    if active:
        user.failed_logins, user.locked_until = 0, None
    audit.record(
        session,
        actor=actor,
        action="user.enabled" if active else "user.disabled",
        entity_type="user",
        entity_id=user.id,
        details={"before": {"is_active": before}, "after": {"is_active": active}},
    )
    return user


def change_role(session: Session, *, actor: Actor, user_id: int, role: Role) -> User:
    require(actor, Permission.MANAGE_USERS)
    user = _user(session, user_id)
    if role != Role.ADMIN:
        _keep_an_admin(session, user)
    before = user.role
    user.role = role.value
    audit.record(
        session,
        actor=actor,
        action="user.role_changed",
        entity_type="user",
        entity_id=user.id,
        details={"before": {"role": before}, "after": {"role": role.value}},
    )
    return user


def reset_password(session: Session, *, actor: Actor, user_id: int, password: str) -> User:
    require(actor, Permission.MANAGE_USERS)
    _check_password(password)
    user = _user(session, user_id)
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    # The password itself never reaches the log.
    audit.record(session, actor=actor, action="user.password_reset", entity_type="user", entity_id=user.id)
    return user


DEMO_USERNAMES = {
    Role.ADJUSTER: "adjuster",
    Role.COMPLIANCE: "compliance",
    Role.MANAGER: "manager",
    Role.ADMIN: "admin",
}


def create_demo_users(session: Session, *, actor: Actor) -> dict[str, str]:
    """One user per role for the demo, each with a fresh random password (returned once,
    never stored in clear); users that already exist are left alone."""
    created = {}
    for role, username in DEMO_USERNAMES.items():
        if session.scalar(select(User.id).where(User.username == username)) is None:
            password = secrets.token_urlsafe(12)
            create_user(session, actor=actor, username=username, role=role, password=password)
            created[username] = password
    return created

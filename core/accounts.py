"""Local accounts: creating users, signing in (with lockout), the signed-in sessions that
a browser resumes from its cookie, and the administrator's changes to users. Every change
is audited.

Sign-in never says whether a username exists: a wrong username and a wrong password get
the same message, and both count against the account when it exists.

A sign-in starts a session row (`UserSession`). The browser's tab keeps the row's id; the
browser keeps a random token in an HttpOnly cookie, which it gets by trading a one-time
sign-in code (`issue_cookie`). Only SHA-256 hashes of codes and tokens are stored. Every
page run re-reads the session and its user, so sign-out, expiry, disabling the user, a
role change or a password reset take effect on the next click, in every browser.
"""

from __future__ import annotations

import functools
import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from core import audit, credentials, throttle
from core.auth import Actor, Permission, Role, hash_password, require, verify_password
from core.clock import now
from core.config import get_settings
from core.errors import InvalidInput, NotFound
from db.dialect import rows_changed
from db.models import User, UserSession

# One message for every refusal, so that a stranger learns nothing about which accounts
# exist or are locked (the audit log records the real reason).
WRONG_CREDENTIALS = (
    "Wrong username or password. After repeated failures an account is locked for a while; "
    "an administrator can unlock it."
)


# How long after sign-in the browser may trade its one-time code for the session cookie.
SIGN_IN_CODE_SECONDS = 120


@dataclass(frozen=True)
class StartedSession:
    """A new sign-in: the session row, and the one-time code its browser trades for the cookie."""

    session_id: int
    sign_in_code: str


@dataclass(frozen=True)
class LoginResult:
    """The outcome of a sign-in attempt; `actor` and `started` are set only on success."""

    actor: Actor | None
    message: str
    started: StartedSession | None = None

    @property
    def ok(self) -> bool:
        return self.actor is not None


@dataclass(frozen=True)
class IssuedCookie:
    """The token a browser keeps in its session cookie, and when the session expires."""

    token: str
    expires_at: datetime


@dataclass(frozen=True)
class Resumed:
    """What a tab's session id or a browser's cookie stands for now: the session and its
    user, or (`ended`) why it no longer signs anyone in."""

    session_id: int | None = None
    actor: Actor | None = None
    # signed out | expired | idle | disabled | role changed | password reset | password changed | unknown
    ended: str | None = None


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


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def actor_for(user: User) -> Actor:
    return Actor(
        username=user.username, role=Role(user.role), user_id=user.id, must_change_password=user.must_change_password
    )


def _refuse_lookalike(session: Session, username: str) -> None:
    """A new name must not be, or look like, an existing one (`credentials.skeleton`)."""
    wanted = credentials.skeleton(username)
    for existing in session.scalars(select(User.username)):
        if credentials.skeleton(existing) == wanted:
            same = "already exists" if existing == username else f"looks the same as the existing {existing!r}"
            raise InvalidInput(f"user {username!r} {same}")


def create_user(
    session: Session,
    *,
    actor: Actor,
    username: str,
    role: Role,
    password: str,
    email: str | None = None,
    must_change_password: bool = False,
) -> User:
    """A new local user. An administrator handing out a first password passes
    `must_change_password`, so that the user replaces it at the first sign-in."""
    require(actor, Permission.MANAGE_USERS)
    username = credentials.check_username(username)
    credentials.check_password(password, username=username)
    _refuse_lookalike(session, username)
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
        must_change_password=must_change_password,
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


def authenticate(session: Session, *, username: str, password: str, source: str | None = None) -> LoginResult:
    """Check a username and password (see `_authenticate`), from `source` (the client's
    address), which `core.throttle` slows down once it has failed too often."""
    if source is not None:
        wait = throttle.SIGN_INS.wait(source, now())
        if wait > timedelta(0):
            audit.record(session, actor=None, anonymous_name=f"source:{source}"[:128], action="login.throttled",
                         entity_type="user", details={"wait_seconds": round(wait.total_seconds(), 1)})  # fmt: skip
            return LoginResult(
                None, f"Too many failed sign-ins from your address; try again in {math.ceil(wait.total_seconds())} s."
            )
    result = _authenticate(session, username=username, password=password, source=source)
    if source is not None and not result.ok:
        throttle.SIGN_INS.failed(source, now())
    return result


def _authenticate(session: Session, *, username: str, password: str, source: str | None) -> LoginResult:
    """Check a username and password. Failures are counted and audited, so the caller
    must commit the transaction whatever the result.

    Every refusal reads the same and costs one password hash, so neither the message nor
    the time tells a stranger whether an account exists, is disabled or is locked. The
    attempt is claimed before the password is checked (`_claim_attempt`): however many
    guesses race, at most `login_max_failures` are checked before the lock, on SQLite as
    on PostgreSQL, and a lock set by a racing guess is never cleared by a success.
    """
    typed = credentials.normalise_username(username)[: credentials.MAX_USERNAME_LENGTH]
    user = session.scalar(select(User).where(User.username == typed))
    if user is None:
        verify_password(_dummy_hash(), password)  # as slow as a real check
        # Not the typed name: it is often a password typed into the wrong box. Its hash still
        # lets an auditor see the same name tried again and again.
        return _refuse(session, f"unknown:{_digest(typed)[:12]}", None, WRONG_CREDENTIALS, reason="unknown user")
    failures = _claim_attempt(session, user)
    delayed = _administrator_delay(user, source) if failures is not None else None
    if failures is None or delayed is not None:
        verify_password(_dummy_hash(), password)
        until = delayed or _current_lock(session, user)
        return _refuse(session, user.username, user, WRONG_CREDENTIALS, reason="locked",
                       locked_until=until.isoformat() if until else None)  # fmt: skip
    if not user.password_hash or not verify_password(user.password_hash, password):
        details: dict[str, object] = {"reason": "wrong password", "failures": failures}
        locked_until = _lock_after(session, user, failures, source)
        if locked_until is not None:
            details["locked_until"] = locked_until.isoformat()
        return _refuse(session, user.username, user, WRONG_CREDENTIALS, **details)
    session.refresh(user)
    if not user.is_active:  # the right password, but the same answer as a wrong one
        return _refuse(session, user.username, user, WRONG_CREDENTIALS, reason="disabled")
    user.failed_logins, user.locked_until = 0, None  # our claim holds the row: no lock was set since
    throttle.ADMINISTRATOR_DELAYS.forget(user.id, source)
    return _signed_in(session, user)


def _administrator_delay(user: User, source: str | None) -> datetime | None:
    """Until when an administrator's next guess from `source` waits, if it must; None for
    everyone else (a claimed attempt means no lock was set: the claim checked it)."""
    if user.role != Role.ADMIN:
        return None
    wait = throttle.ADMINISTRATOR_DELAYS.wait(user.id, source, now())
    return now() + wait if wait > timedelta(0) else None


def _current_lock(session: Session, user: User) -> datetime | None:
    """The lock that refused the claim (None when the quota of guesses is in flight instead)."""
    session.refresh(user, ["locked_until"])
    return _aware(user.locked_until)


def _lock_after(session: Session, user: User, failures: int, source: str | None) -> datetime | None:
    """Lock the account after a wrong password once `failures` reach the limit; None below it.

    Users are locked for `login_lockout_minutes` and start counting afresh (an
    administrator can unlock them). Administrators are never locked, or anyone could lock
    every administrator out at will and no one would be left to unlock them: past the
    limit each wrong password delays the next guess *from the same source* twice as long
    as the one before, up to `login_admin_max_delay_seconds` (`core.throttle.
    AdministratorDelays`), and an administrator signing in from elsewhere is not held up.
    """
    settings = get_settings()
    if failures < settings.login_max_failures:
        return None
    if user.role == Role.ADMIN:
        cap = timedelta(seconds=settings.login_admin_max_delay_seconds)
        return throttle.ADMINISTRATOR_DELAYS.failed(user.id, source, now(), cap)
    locked_until = now() + timedelta(minutes=settings.login_lockout_minutes)
    session.execute(update(User).where(User.id == user.id).values(locked_until=locked_until, failed_logins=0))
    return locked_until


def _claim_attempt(session: Session, user: User) -> int | None:
    """Count this attempt as a failure before the password is checked, in one conditional
    UPDATE: the row's write lock (SQLite: the database's) is then held until the caller
    commits, so racing guesses for the account queue behind it and each sees the count
    the one before left. None when the account is locked, or its quota of guesses is in
    flight already; otherwise the failures including this attempt."""
    moment = now()
    claimed = session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.locked_until.is_(None), User.locked_until <= moment),
            # administrators' counts grow past the limit: each attempt then waits out its delay
            or_(User.failed_logins < get_settings().login_max_failures, User.role == Role.ADMIN.value),
        )
        .values(failed_logins=User.failed_logins + 1)
        .returning(User.failed_logins)
        .execution_options(synchronize_session=False)  # the caller refreshes what it reads
    ).scalar()
    return int(claimed) if claimed is not None else None


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password, checked for unknown users so they cost what known ones do."""
    return hash_password(secrets.token_urlsafe(16))


def authenticate_email(session: Session, *, email: str) -> LoginResult:
    """Sign-in through the identity provider (`st.login`): the verified e-mail must belong
    to an active user; the provider has already checked the password."""
    user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None or not user.is_active:
        message = f"No active ClaimLens user has the e-mail {email}; ask an administrator."
        return _refuse(session, email, None, message, reason="no active user with this e-mail", method="oidc")
    return _signed_in(session, user, method="oidc")


def _signed_in(session: Session, user: User, **details: str) -> LoginResult:
    moment = now()
    user.last_login_at = moment
    code = secrets.token_urlsafe(32)
    row = UserSession(
        user_id=user.id,
        token_hash=_digest(code),
        created_at=moment,
        expires_at=moment + timedelta(hours=get_settings().session_hours),
        last_active_at=moment,
    )
    session.add(row)
    session.flush()
    actor = actor_for(user)
    audit.record(
        session,
        actor=actor,
        action="login.succeeded",
        entity_type="user",
        entity_id=user.id,
        details={**details, "session": row.id},
    )
    return LoginResult(actor, f"Signed in as {user.username} ({user.role}).", StartedSession(row.id, code))


def _digest(secret: str) -> str:
    # Codes and tokens are 256 random bits: a fast hash is enough, no salt or stretching needed.
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_cookie(session: Session, *, sign_in_code: str) -> IssuedCookie | None:
    """Trade a session's one-time sign-in code for the token its browser keeps in the
    cookie: once, within SIGN_IN_CODE_SECONDS of signing in, while the session lasts.
    The code stops working as it is traded (a conditional update, so two browsers racing
    with one code cannot both win); None for a code that is unknown, spent or stale."""
    moment = now()
    row = session.scalar(
        select(UserSession).where(
            UserSession.token_hash == _digest(sign_in_code), UserSession.cookie_issued_at.is_(None)
        )
    )
    if (
        row is None
        or row.ended_at is not None
        or _utc(row.created_at) < moment - timedelta(seconds=SIGN_IN_CODE_SECONDS)
        or _utc(row.expires_at) <= moment
    ):
        return None
    token = secrets.token_urlsafe(32)
    traded = session.execute(
        update(UserSession)
        .where(
            UserSession.id == row.id,
            UserSession.token_hash == _digest(sign_in_code),
            UserSession.cookie_issued_at.is_(None),
        )
        .values(token_hash=_digest(token), cookie_issued_at=moment)
    )
    if rows_changed(traded) != 1:
        return None
    return IssuedCookie(token, _utc(row.expires_at))


def _check(session: Session, row: UserSession | None) -> Resumed:
    if row is None:
        return Resumed(ended="unknown")
    if row.ended_at is not None:
        return Resumed(row.id, ended=row.end_reason or "signed out")
    if _utc(row.expires_at) <= now():
        return Resumed(row.id, ended="expired")
    last_active = _utc(row.last_active_at or row.cookie_issued_at or row.created_at)
    if last_active + timedelta(minutes=get_settings().session_idle_minutes) <= now():
        return Resumed(row.id, ended="idle")
    user = session.get(User, row.user_id)
    if user is None or not user.is_active:
        return Resumed(row.id, ended="disabled")
    return Resumed(row.id, actor_for(user))


def resume(session: Session, *, session_id: int) -> Resumed:
    """The session a tab signed in to, read afresh on every page run so that sign-out,
    expiry, a disabled user, a changed role or a reset password take effect at once."""
    return _check(session, session.get(UserSession, session_id))


def resume_cookie(session: Session, *, token: str) -> Resumed:
    """The session behind a browser's cookie (a reload, a bookmark, a new tab): the same
    checks as `resume`. A one-time sign-in code is not a cookie token and resumes nothing."""
    row = session.scalar(
        select(UserSession).where(UserSession.token_hash == _digest(token), UserSession.cookie_issued_at.isnot(None))
    )
    return _check(session, row)


def end_session(session: Session, *, session_id: int | None = None, token: str | None = None) -> bool:
    """Sign out: end the session named by its id or by its cookie's token, audited. False
    when there was no open session to end (already ended, expired, or unknown)."""
    if token is not None:
        row = session.scalar(select(UserSession).where(UserSession.token_hash == _digest(token)))
    else:
        row = session.get(UserSession, session_id) if session_id is not None else None
    if row is None or row.ended_at is not None or _utc(row.expires_at) <= now():
        return False
    ended = session.execute(
        update(UserSession)
        .where(UserSession.id == row.id, UserSession.ended_at.is_(None))
        .values(ended_at=now(), end_reason="signed out")
    )
    if rows_changed(ended) != 1:
        return False
    user = session.get(User, row.user_id)
    audit.record(
        session,
        actor=actor_for(user) if user else None,
        action="logout",
        entity_type="user",
        entity_id=row.user_id,
        details={"session": row.id},
    )
    return True


def _end_sessions(session: Session, user: User, reason: str, *, keep: int | None = None) -> int:
    """End every open session of `user` (but `keep`): an administrator disabled the user,
    changed the role or reset the password, or the user changed it, and no browser may go
    on under the old terms."""
    ended = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None), UserSession.id != (keep or -1))
        .values(ended_at=now(), end_reason=reason)
    )
    return rows_changed(ended)


def change_own_password(session: Session, *, actor: Actor, session_id: int, current: str, new: str) -> User:
    """A signed-in user replaces their password, proving the current one. Their other
    sessions end (whoever knew the old password is out); this one goes on."""
    if actor.user_id is None:
        raise InvalidInput("only a signed-in user has a password to change")
    user = _user(session, actor.user_id)
    if not user.password_hash or not verify_password(user.password_hash, current):
        raise InvalidInput("the current password is not right")
    if new == current:
        raise InvalidInput("choose a password different from the current one")
    credentials.check_password(new, username=user.username)
    user.password_hash = hash_password(new)
    user.must_change_password = False
    ended = _end_sessions(session, user, "password changed", keep=session_id)
    audit.record(
        session, actor=actor, action="user.password_changed", entity_type="user", entity_id=user.id,
        details={"sessions_ended": ended},
    )  # fmt: skip
    return user


# A click refreshes the session's last activity at most this often (a write per click would
# queue every page run behind SQLite's one writer for nothing).
ACTIVITY_RESOLUTION = timedelta(seconds=60)


def record_activity(session: Session, *, session_id: int) -> None:
    """The session's user clicked: an idle session ends `session_idle_minutes` after this."""
    moment = now()
    session.execute(
        update(UserSession)
        .where(
            UserSession.id == session_id,
            or_(UserSession.last_active_at.is_(None), UserSession.last_active_at < moment - ACTIVITY_RESOLUTION),
        )
        .values(last_active_at=moment)
        .execution_options(synchronize_session=False)
    )


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
            bool((until := _aware(u.locked_until)) and until > moment),
            _aware(u.last_login_at),
        )
        for u in users
    ]


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id, with_for_update=True)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    return user


def _lock_admins(session: Session) -> None:
    """Lock the active administrators' rows (PostgreSQL; in id order, so racing changes
    queue instead of deadlocking) before a change that may remove one of them."""
    active_admins = select(User.id).where(User.role == Role.ADMIN.value, User.is_active.is_(True))
    session.execute(active_admins.order_by(User.id).with_for_update()).all()


def _an_admin_remains(session: Session) -> bool:
    """Whether the change just made to a user (flushed here) leaves someone able to manage
    users. It is counted after the change is written (SQLite: holding the database's write
    lock) and after `_lock_admins` (PostgreSQL: holding the admins' rows), so two
    administrators demoting each other at once cannot both see the other one still there."""
    session.flush()
    remaining = session.scalar(
        select(func.count()).select_from(User).where(User.role == Role.ADMIN.value, User.is_active.is_(True))
    )
    return bool(remaining)


def _last_admin(session: Session, user: User, attribute: str, before: object) -> InvalidInput:
    """Undo the refused change (the caller's transaction may still commit) and say why."""
    setattr(user, attribute, before)
    session.flush()
    return InvalidInput(f"{user.username} is the last active administrator")


def set_active(session: Session, *, actor: Actor, user_id: int, active: bool) -> User:
    require(actor, Permission.MANAGE_USERS)
    _lock_admins(session)
    user = _user(session, user_id)
    before = user.is_active
    user.is_active = active
    if not active and user.role == Role.ADMIN.value and not _an_admin_remains(session):
        raise _last_admin(session, user, "is_active", before)
    details: dict[str, object] = {"before": {"is_active": before}, "after": {"is_active": active}}
    if active:
        user.failed_logins, user.locked_until = 0, None
    else:
        details["sessions_ended"] = _end_sessions(session, user, "disabled")
    audit.record(
        session,
        actor=actor,
        action="user.enabled" if active else "user.disabled",
        entity_type="user",
        entity_id=user.id,
        details=details,
    )
    return user


def change_role(session: Session, *, actor: Actor, user_id: int, role: Role) -> User:
    require(actor, Permission.MANAGE_USERS)
    _lock_admins(session)
    user = _user(session, user_id)
    before = user.role
    user.role = role.value
    if before == Role.ADMIN.value and role != Role.ADMIN and not _an_admin_remains(session):
        raise _last_admin(session, user, "role", before)
    # A signed-in browser must not keep what the old role allowed, nor gain the new one unasked.
    ended = _end_sessions(session, user, "role changed") if before != role.value else 0
    # An administrator's failure count may have grown past the limit (`_lock_after`), where
    # another role's attempts would never be claimed again: start it afresh.
    user.failed_logins = min(user.failed_logins, get_settings().login_max_failures - 1)
    audit.record(
        session,
        actor=actor,
        action="user.role_changed",
        entity_type="user",
        entity_id=user.id,
        details={"before": {"role": before}, "after": {"role": role.value}, "sessions_ended": ended},
    )
    return user


def reset_password(session: Session, *, actor: Actor, user_id: int, password: str) -> User:
    require(actor, Permission.MANAGE_USERS)
    user = _user(session, user_id)
    credentials.check_password(password, username=user.username)
    user.password_hash = hash_password(password)
    user.failed_logins, user.locked_until = 0, None
    user.must_change_password = True  # the administrator knows it: the user must choose their own
    ended = _end_sessions(session, user, "password reset")  # whoever knew the old password is out
    # The password itself never reaches the log.
    audit.record(
        session,
        actor=actor,
        action="user.password_reset",
        entity_type="user",
        entity_id=user.id,
        details={"sessions_ended": ended},
    )
    return user


def unlock(session: Session, *, actor: Actor, user_id: int) -> User:
    """Lift a lockout from repeated failed sign-ins before it runs out (password unchanged)."""
    require(actor, Permission.MANAGE_USERS)
    user = _user(session, user_id)
    locked_until = _aware(user.locked_until)
    if locked_until is None or locked_until <= now():
        raise InvalidInput(f"{user.username} is not locked")
    user.failed_logins, user.locked_until = 0, None
    audit.record(
        session,
        actor=actor,
        action="user.unlocked",
        entity_type="user",
        entity_id=user.id,
        details={"before": {"locked_until": locked_until.isoformat()}, "after": {"locked_until": None}},
    )
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
    require(actor, Permission.MANAGE_USERS)
    created = {}
    for role, username in DEMO_USERNAMES.items():
        if session.scalar(select(User.id).where(User.username == username)) is None:
            password = secrets.token_urlsafe(12)
            create_user(session, actor=actor, username=username, role=role, password=password)
            created[username] = password
    return created

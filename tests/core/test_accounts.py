"""Sign-in, lockout, signed-in sessions (cookie, expiry, sign-out, and their end when an
administrator changes the user), and the administrator's changes to users."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from core import accounts
from core.auth import Actor, Role
from core.errors import InvalidInput, PermissionDenied
from db.models import AuditLog, User, UserSession
from db.session import engine_for
from tests.conftest import run_at_once

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


def test_a_password_typed_as_the_username_is_not_written_to_the_audit_log(session: Session) -> None:
    sign_in(session, "whatever", username="MySecretPassw0rd!")
    with session.begin():
        last = session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert last is not None and last.action == "login.failed" and "MySecretPassw0rd" not in last.actor
    assert last.actor.startswith("unknown:")
    sign_in(session, "whatever", username="MySecretPassw0rd!")
    with session.begin():
        again = session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert again is not None and again.actor == last.actor  # the same name tried again is visible


def test_an_unknown_user_costs_a_password_check_like_a_known_one(
    session: Session, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[str] = []
    real = accounts.verify_password
    monkeypatch.setattr(accounts, "verify_password", lambda h, p: checked.append(p) or real(h, p))
    sign_in(session, "wrong password!")
    sign_in(session, "wrong password!", username="nobody")
    assert checked == ["wrong password!", "wrong password!"]  # the same work, so the same time


@pytest.mark.parametrize("role", [Role.ADJUSTER, Role.ADMIN])
def test_racing_guesses_check_at_most_the_allowed_failures_then_the_right_password_is_refused(
    backend: str, database_url: str, monkeypatch: pytest.MonkeyPatch, role: Role
) -> None:
    sessions = sessionmaker(bind=engine_for(database_url), expire_on_commit=False)
    with sessions() as session, session.begin():
        ada = accounts.create_user(session, actor=ADMIN, username="ada", role=role, password=PASSWORD)
    moment = datetime.now(UTC)
    monkeypatch.setattr(accounts, "now", lambda: moment)  # an administrator's first delay (1 s) never ends
    checked: list[str] = []
    real, dummy = accounts.verify_password, accounts._dummy_hash()

    def counting(password_hash: str, password: str) -> bool:
        if password_hash != dummy:  # a refusal's stand-in check is not a guess checked
            checked.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(accounts, "verify_password", counting)

    def guess(i: int) -> bool:
        with sessions() as session, session.begin():
            return accounts.authenticate(session, username="ada", password=f"wrong guess {i:02d}").ok

    results, errors = run_at_once(guess, 24)
    assert not errors and not any(results.values())
    assert len(checked) <= 5, f"{len(checked)} guesses were checked"  # login_max_failures
    with sessions() as session, session.begin():
        assert not accounts.authenticate(session, username="ada", password=PASSWORD).ok  # locked (or delayed)
        locked = session.get(User, ada.id).locked_until is not None  # type: ignore[union-attr]
        assert locked == (role != Role.ADMIN)  # an administrator is delayed per address, never locked


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


def test_administrators_are_never_locked_out_only_slowed_more_with_each_failure(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session.begin():
        accounts.create_user(session, actor=ADMIN, username="root", role=Role.ADMIN, password=PASSWORD)
    clock = {"at": datetime.now(UTC)}
    monkeypatch.setattr(accounts, "now", lambda: clock["at"])

    def attempt(password: str) -> bool:
        with session.begin():
            return accounts.authenticate(session, username="root", password=password, source="10.6.6.6").ok

    for _ in range(5):  # anyone can make these five failures (login_max_failures)
        assert not attempt("wrong password!")
    assert not attempt(PASSWORD)  # the first delay: 1 s, even for the right password
    clock["at"] += timedelta(seconds=1)
    delays = []
    for _ in range(9):  # an attacker guessing each time a delay ends
        assert not attempt("wrong password!")
        with session.begin():
            details = session.scalars(select(AuditLog.details).order_by(AuditLog.id.desc())).first()
        assert details is not None and details["reason"] == "wrong password"
        until = datetime.fromisoformat(details["locked_until"])
        delays.append((until - clock["at"]).total_seconds())
        clock["at"] = until
    assert delays == [2, 4, 8, 16, 32, 64, 128, 256, 300]  # doubling, up to login_admin_max_delay_seconds
    assert attempt(PASSWORD)  # the administrator waited out a delay, never a lockout


def test_guesses_from_one_address_never_delay_an_administrator_signing_in_from_another(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An attacker who sends one guess as each delay ends keeps only its own address waiting."""
    with session.begin():
        root = accounts.create_user(session, actor=ADMIN, username="root", role=Role.ADMIN, password=PASSWORD)
    clock = {"at": datetime.now(UTC)}
    monkeypatch.setattr(accounts, "now", lambda: clock["at"])

    def attempt(password: str, source: str) -> bool:
        with session.begin():
            return accounts.authenticate(session, username="root", password=password, source=source).ok

    for _ in range(8):
        assert not attempt("wrong password!", "10.6.6.6")
        clock["at"] += timedelta(seconds=1)
    assert not attempt(PASSWORD, "10.6.6.6")  # the attacker's address is still waiting
    assert attempt(PASSWORD, "10.1.1.1")  # the administrator's is not
    assert not attempt(PASSWORD, "10.6.6.6")  # and a success elsewhere did not end the attacker's wait
    with session.begin():
        assert session.get(User, root.id).locked_until is None  # type: ignore[union-attr]  # never locked


def test_a_demoted_administrators_grown_failure_count_does_not_lock_them_for_good(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session.begin():
        accounts.create_user(session, actor=ADMIN, username="root", role=Role.ADMIN, password=PASSWORD)
        other = accounts.create_user(session, actor=ADMIN, username="other", role=Role.ADMIN, password=PASSWORD)
    for _ in range(7):
        sign_in(session, "wrong password!", "root")
    with session.begin():
        root = session.scalars(select(User).where(User.username == "root")).one()
        root.locked_until = None
        accounts.change_role(session, actor=accounts.actor_for(other), user_id=root.id, role=Role.ADJUSTER)
    assert sign_in(session, PASSWORD, "root").ok


def started(session: Session, username: str = "ada") -> accounts.StartedSession:
    result = sign_in(session, PASSWORD, username)
    assert result.started is not None
    return result.started


def cookie_for(session: Session, username: str = "ada") -> tuple[int, str]:
    """Sign in and trade the code for the cookie, as the browser does: (session id, token)."""
    new = started(session, username)
    with session.begin():
        issued = accounts.issue_cookie(session, sign_in_code=new.sign_in_code)
    assert issued is not None
    return new.session_id, issued.token


def test_a_sign_in_resumes_from_its_cookie_in_a_new_tab_until_it_expires(
    session: Session, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    session_id, token = cookie_for(session)
    with session.begin():
        tab, reload = accounts.resume(session, session_id=session_id), accounts.resume_cookie(session, token=token)
    assert tab.actor == reload.actor == Actor("ada", Role.ADJUSTER, ada.id) and reload.session_id == session_id
    later = datetime.now(UTC) + timedelta(hours=8, seconds=1)  # the default session_hours have passed
    monkeypatch.setattr(accounts, "now", lambda: later)
    with session.begin():
        assert accounts.resume_cookie(session, token=token) == accounts.Resumed(session_id, ended="expired")
        assert accounts.resume(session, session_id=session_id).ended == "expired"


def test_the_sign_in_code_buys_one_cookie_once_and_is_no_cookie_itself(session: Session, ada: User) -> None:
    new = started(session)
    with session.begin():
        assert accounts.resume_cookie(session, token=new.sign_in_code).actor is None  # the code is not a token
        issued = accounts.issue_cookie(session, sign_in_code=new.sign_in_code)
        assert issued is not None
        assert accounts.issue_cookie(session, sign_in_code=new.sign_in_code) is None  # spent
        assert accounts.issue_cookie(session, sign_in_code="made-up") is None
        stored = session.scalars(select(UserSession.token_hash)).one()
    assert issued.token not in stored and new.sign_in_code not in stored and len(stored) == 64  # only a hash


def test_a_sign_in_code_goes_stale(session: Session, ada: User, monkeypatch: pytest.MonkeyPatch) -> None:
    new = started(session)
    later = datetime.now(UTC) + timedelta(seconds=accounts.SIGN_IN_CODE_SECONDS + 1)
    monkeypatch.setattr(accounts, "now", lambda: later)
    with session.begin():
        assert accounts.issue_cookie(session, sign_in_code=new.sign_in_code) is None


def test_two_browsers_racing_with_one_sign_in_code_get_one_cookie(backend: str, database_url: str) -> None:
    sessions = sessionmaker(bind=engine_for(database_url), expire_on_commit=False)
    with sessions() as session, session.begin():
        accounts.create_user(session, actor=ADMIN, username="ada", role=Role.ADJUSTER, password=PASSWORD)
        code = accounts.authenticate(session, username="ada", password=PASSWORD).started.sign_in_code  # type: ignore[union-attr]

    def trade(_: int) -> str | None:
        with sessions() as session, session.begin():
            issued = accounts.issue_cookie(session, sign_in_code=code)
            return issued.token if issued else None

    results, errors = run_at_once(trade, 8)
    assert not errors
    winners = [token for token in results.values() if token]
    assert len(winners) == 1
    with sessions() as session:
        assert accounts.resume_cookie(session, token=winners[0]).actor is not None


def test_sign_out_ends_the_session_for_every_tab_and_cookie_and_is_audited(session: Session, ada: User) -> None:
    first_id, first_token = cookie_for(session)
    second_id, second_token = cookie_for(session)  # ada in another browser
    with session.begin():
        assert accounts.end_session(session, session_id=first_id)
        assert not accounts.end_session(session, session_id=first_id)  # once
    with session.begin():
        assert accounts.end_session(session, token=second_token)  # the sign-out route knows only the cookie
    with session.begin():
        for session_id, token in ((first_id, first_token), (second_id, second_token)):
            assert accounts.resume(session, session_id=session_id) == accounts.Resumed(session_id, ended="signed out")
            assert accounts.resume_cookie(session, token=token).actor is None
    assert actions(session).count("logout") == 2


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda s, user_id: accounts.set_active(s, actor=ADMIN, user_id=user_id, active=False), "disabled"),
        (lambda s, user_id: accounts.change_role(s, actor=ADMIN, user_id=user_id, role=Role.MANAGER), "role changed"),
        (
            lambda s, user_id: accounts.reset_password(s, actor=ADMIN, user_id=user_id, password="a new long one"),
            "password reset",
        ),
    ],
    ids=["disable", "role change", "password reset"],
)
def test_an_administrators_change_ends_every_session_of_that_user_only(
    session: Session,
    ada: User,
    change,
    reason: str,  # type: ignore[no-untyped-def]
) -> None:
    with session.begin():
        accounts.create_user(session, actor=ADMIN, username="abe", role=Role.ADJUSTER, password=PASSWORD)
    ada_sessions = [cookie_for(session), cookie_for(session)]
    abe_id, abe_token = cookie_for(session, "abe")
    with session.begin():
        change(session, ada.id)
    with session.begin():
        for session_id, token in ada_sessions:
            assert accounts.resume(session, session_id=session_id) == accounts.Resumed(session_id, ended=reason)
            assert accounts.resume_cookie(session, token=token).ended == reason
        assert accounts.resume_cookie(session, token=abe_token).actor is not None  # others stay signed in
        assert accounts.resume(session, session_id=abe_id).actor is not None
        last = session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert last is not None and last.details["sessions_ended"] == 2


def test_choosing_the_same_role_again_ends_no_session(session: Session, ada: User) -> None:
    session_id, _ = cookie_for(session)
    with session.begin():
        accounts.change_role(session, actor=ADMIN, user_id=ada.id, role=Role.ADJUSTER)
    with session.begin():
        assert accounts.resume(session, session_id=session_id).actor is not None


def test_disabled_users_cannot_sign_in(session: Session, ada: User) -> None:
    with session.begin():
        accounts.set_active(session, actor=ADMIN, user_id=ada.id, active=False)
    result = sign_in(session, PASSWORD)
    # The right password on a disabled account reads like a wrong one: nothing tells a stranger
    # the password was right (the audit log knows).
    assert not result.ok and result.started is None and result.message == accounts.WRONG_CREDENTIALS
    with session.begin():
        last = session.scalars(select(AuditLog).order_by(AuditLog.id.desc())).first()
        assert last is not None and last.details["reason"] == "disabled"


def test_an_administrator_unlocks_a_locked_account_and_it_is_audited(session: Session, ada: User) -> None:
    for _ in range(5):
        sign_in(session, "wrong password!")
    assert not sign_in(session, PASSWORD).ok
    with session.begin():
        assert [u.locked for u in accounts.list_users(session, actor=ADMIN)] == [True]
        accounts.unlock(session, actor=ADMIN, user_id=ada.id)
    assert sign_in(session, PASSWORD).ok
    entry = session.scalars(select(AuditLog).where(AuditLog.action == "user.unlocked")).one()
    assert entry.actor == ADMIN.username and entry.entity_id == str(ada.id)
    assert entry.details["after"] == {"locked_until": None} and entry.details["before"]["locked_until"]


def test_unlocking_an_account_that_is_not_locked_says_so(session: Session, ada: User) -> None:
    with session.begin(), pytest.raises(InvalidInput, match="ada is not locked"):
        accounts.unlock(session, actor=ADMIN, user_id=ada.id)


def test_role_changes_and_password_resets_are_audited_without_the_password(session: Session, ada: User) -> None:
    with session.begin():
        accounts.change_role(session, actor=ADMIN, user_id=ada.id, role=Role.COMPLIANCE)
        accounts.reset_password(session, actor=ADMIN, user_id=ada.id, password="another long one")
    assert sign_in(session, "another long one").actor.role == Role.COMPLIANCE  # type: ignore[union-attr]
    entries = session.scalars(select(AuditLog).where(AuditLog.action.like("user.%"))).all()
    assert [e.action for e in entries] == ["user.created", "user.role_changed", "user.password_reset"]
    assert entries[1].details == {"before": {"role": "adjuster"}, "after": {"role": "compliance"}, "sessions_ended": 0}
    assert all("another long one" not in str(e.details) and PASSWORD not in str(e.details) for e in entries)


def test_the_last_administrator_cannot_be_disabled_or_demoted(session: Session) -> None:
    with session.begin():
        root = accounts.create_user(session, actor=ADMIN, username="root", role=Role.ADMIN, password=PASSWORD)
    with session.begin(), pytest.raises(InvalidInput, match="last active administrator"):
        accounts.set_active(session, actor=ADMIN, user_id=root.id, active=False)
    with session.begin(), pytest.raises(InvalidInput, match="last active administrator"):
        accounts.change_role(session, actor=ADMIN, user_id=root.id, role=Role.MANAGER)
    with session.begin():
        session.refresh(root)
        assert (root.role, root.is_active) == ("admin", True)  # even a transaction that commits keeps it


@pytest.mark.parametrize("change", ["demote", "disable"])
def test_two_administrators_removing_each_other_at_once_leave_one(backend: str, database_url: str, change: str) -> None:
    sessions = sessionmaker(bind=engine_for(database_url), expire_on_commit=False)
    with sessions() as session, session.begin():
        admins = [
            accounts.create_user(session, actor=ADMIN, username=name, role=Role.ADMIN, password=PASSWORD)
            for name in ("root", "toor")
        ]
    actors = [accounts.actor_for(user) for user in admins]

    def remove_the_other(i: int) -> str:
        other = admins[1 - i].id
        try:
            with sessions() as session, session.begin():
                if change == "demote":
                    accounts.change_role(session, actor=actors[i], user_id=other, role=Role.MANAGER)
                else:
                    accounts.set_active(session, actor=actors[i], user_id=other, active=False)
            return "done"
        except InvalidInput as error:
            return str(error)

    results, errors = run_at_once(remove_the_other, 2)
    assert not errors
    assert sorted(results.values())[0] == "done" and "last active administrator" in sorted(results.values())[1]
    with sessions() as session:
        active = session.scalar(select(func.count()).where(User.role == "admin", User.is_active.is_(True)))
    assert active == 1


@pytest.mark.parametrize("role", [Role.ADJUSTER, Role.COMPLIANCE, Role.MANAGER])
def test_only_administrators_manage_users(session: Session, ada: User, role: Role) -> None:
    someone = Actor("someone", role, 99)
    for change in (
        lambda: accounts.list_users(session, actor=someone),
        lambda: accounts.set_active(session, actor=someone, user_id=ada.id, active=False),
        lambda: accounts.change_role(session, actor=someone, user_id=ada.id, role=Role.ADMIN),
        lambda: accounts.reset_password(session, actor=someone, user_id=ada.id, password="a test passphrase"),
        lambda: accounts.unlock(session, actor=someone, user_id=ada.id),
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


def test_a_session_ends_after_the_idle_time_unless_its_user_clicks(
    session: Session, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    busy, idle = started(session).session_id, started(session).session_id
    start = datetime.now(UTC)
    for minutes in (20, 40):  # the busy session's user clicks every 20 minutes; a refresh is no click
        monkeypatch.setattr(accounts, "now", lambda m=minutes: start + timedelta(minutes=m))
        with session.begin():
            assert accounts.resume(session, session_id=busy).actor is not None
            accounts.record_activity(session, session_id=busy)
    with session.begin():
        assert accounts.resume(session, session_id=busy).actor is not None
        assert accounts.resume(session, session_id=idle) == accounts.Resumed(idle, ended="idle")


def test_users_change_their_own_password_proving_the_current_one(session: Session, ada: User) -> None:
    here, elsewhere = started(session).session_id, started(session).session_id
    actor = accounts.actor_for(ada)
    with session.begin(), pytest.raises(InvalidInput, match="current password is not right"):
        accounts.change_own_password(session, actor=actor, session_id=here, current="guess", new="a brand new phrase")
    with session.begin():
        accounts.change_own_password(session, actor=actor, session_id=here, current=PASSWORD, new="a brand new phrase")
    with session.begin():
        assert accounts.resume(session, session_id=here).actor is not None  # this browser goes on
        assert accounts.resume(session, session_id=elsewhere).ended == "password changed"
        assert actions(session)[-1] == "user.password_changed"
    assert not sign_in(session, PASSWORD).ok and sign_in(session, "a brand new phrase").ok


def test_an_administrators_reset_must_be_replaced_at_the_next_sign_in(session: Session, ada: User) -> None:
    with session.begin():
        accounts.reset_password(session, actor=ADMIN, user_id=ada.id, password="the admin knows it")
    result = sign_in(session, "the admin knows it")
    assert result.actor is not None and result.actor.must_change_password

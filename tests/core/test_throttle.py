"""Sign-in throttling per source: spraying one password over many accounts is slowed
down, each account's own limit untouched, and the wait says nothing about any account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from core import accounts, throttle
from core.auth import Actor, Role

ADMIN = Actor(username="root-admin", role=Role.ADMIN)
PASSWORD = "correct horse battery"
T0 = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_the_wait_doubles_after_the_free_failures_and_ends_with_the_window() -> None:
    gate = throttle.SourceThrottle()
    for _ in range(throttle.FREE_FAILURES):
        assert gate.wait("10.0.0.9", T0) == timedelta(0)
        gate.failed("10.0.0.9", T0)
    assert gate.wait("10.0.0.9", T0) == timedelta(seconds=1)
    gate.failed("10.0.0.9", T0)
    assert gate.wait("10.0.0.9", T0) == timedelta(seconds=2)
    assert gate.wait("10.0.0.8", T0) == timedelta(0)  # another source is not slowed
    assert gate.wait("10.0.0.9", T0 + throttle.WINDOW + timedelta(seconds=1)) == timedelta(0)


def test_spraying_many_accounts_from_one_address_is_slowed_down(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "SIGN_INS", throttle.SourceThrottle())
    with session.begin():
        for i in range(throttle.FREE_FAILURES + 1):
            accounts.create_user(session, actor=ADMIN, username=f"user{i}", role=Role.ADJUSTER, password=PASSWORD)
    clock = {"now": T0}
    monkeypatch.setattr(accounts, "now", lambda: clock["now"])
    for i in range(throttle.FREE_FAILURES):  # one guess per account: under every account's lockout
        with session.begin():
            result = accounts.authenticate(session, username=f"user{i}", password="Summer2026!x", source="203.0.113.7")
        assert result.message == accounts.WRONG_CREDENTIALS
    with session.begin():
        slowed = accounts.authenticate(session, username="user10", password=PASSWORD, source="203.0.113.7")
    assert not slowed.ok and slowed.message.startswith("Too many failed sign-ins from your address")
    with session.begin():  # another address signs in as ever
        assert accounts.authenticate(session, username="user10", password=PASSWORD, source="198.51.100.2").ok
    clock["now"] = T0 + timedelta(seconds=2)
    with session.begin():
        assert accounts.authenticate(session, username="user10", password=PASSWORD, source="203.0.113.7").ok


def test_an_administrators_delay_stays_at_its_cap_however_many_guesses_one_source_makes() -> None:
    delays, cap = throttle.AdministratorDelays(), timedelta(minutes=5)
    moment = T0
    for _ in range(80):  # 2**47 seconds would not fit a timedelta
        allowed = delays.failed(1, "10.6.6.6", moment, cap)
        assert allowed - moment <= cap
        moment = allowed
    assert delays.wait(1, "10.6.6.6", moment - timedelta(seconds=1)) == timedelta(seconds=1)
    assert delays.wait(1, "10.1.1.1", moment) == timedelta(0)  # another address waits for nothing

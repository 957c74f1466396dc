"""Usernames normalised and unconfusable, passwords long, not the username and not common."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from core import accounts, credentials
from core.auth import Actor, Role
from core.errors import InvalidInput

ADMIN = Actor(username="root-admin", role=Role.ADMIN)
PASSWORD = "correct horse battery"


@pytest.mark.parametrize("typed", ["Admin", "ADMIN", "ａｄｍｉｎ", "ᵃdmin", " admin "])
def test_spellings_of_one_name_are_that_name(typed: str) -> None:
    assert credentials.check_username(typed) == "admin"


@pytest.mark.parametrize("typed", ["аdmin", "adмin", "pаypal"])  # Cyrillic а and м among Latin letters
def test_a_name_mixing_scripts_is_refused(typed: str) -> None:
    with pytest.raises(InvalidInput, match="several scripts"):
        credentials.check_username(typed)


def test_a_new_user_that_is_or_looks_like_an_existing_one_is_refused(session: Session) -> None:
    with session.begin():
        accounts.create_user(session, actor=ADMIN, username="admin", role=Role.ADMIN, password=PASSWORD)
    for typed, message in [("Admin", "already exists"), ("ａｄｍｉｎ", "already exists"), ("аdмін", "several scripts")]:
        with session.begin(), pytest.raises(InvalidInput, match=message):
            accounts.create_user(session, actor=ADMIN, username=typed, role=Role.ADMIN, password=PASSWORD)
    with session.begin(), pytest.raises(InvalidInput, match="looks the same as the existing 'admin'"):
        accounts.create_user(session, actor=ADMIN, username="ɑdmin", role=Role.ADMIN, password=PASSWORD)  # Latin alpha


def test_sign_in_accepts_any_spelling_of_the_name(session: Session) -> None:
    with session.begin():
        accounts.create_user(session, actor=ADMIN, username="Maria.K", role=Role.ADJUSTER, password=PASSWORD)
    for typed in ("maria.k", "MARIA.K", "ｍａｒｉａ.k"):
        with session.begin():
            assert accounts.authenticate(session, username=typed, password=PASSWORD).ok


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short one", "at least 12"),
        ("maria.kowalski", "not be the username"),
        ("Maria.Kowalski2024!", "not be the username"),
        ("qazwsxedcrfv", "most common"),
        ("Password123456!", "most common"),
        ("1qaz2wsx3edc", "most common"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password: str, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        credentials.check_password(password, username="maria.kowalski")


def test_a_long_uncommon_passphrase_is_accepted() -> None:
    credentials.check_password("staple tuna orbit glacier", username="maria.kowalski")

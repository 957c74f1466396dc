"""What a username and a password may be (OWASP ASVS 2.1, 2.3).

Usernames are stored and looked up normalised: Unicode NFKC (full-width `ａｄｍｉｎ` and
`ᵃdmin` become `admin`) then case-folded (`Admin` is `admin`). Letters must come from one
script, so `аdmin` with a Cyrillic `а` is refused, and a new name whose *skeleton* (its
look-alike letters mapped to Latin) matches an existing one is refused as confusable.

Passwords: at least `MIN_PASSWORD_LENGTH` characters, not the username, and not one of the
30,000 most common passwords (`data/common_passwords.txt`), nor one of them with digits
or symbols added at the end ("Password123!").
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

from core.errors import InvalidInput

MIN_PASSWORD_LENGTH = 12
MAX_USERNAME_LENGTH = 64
COMMON_PASSWORDS = Path(__file__).parent / "data" / "common_passwords.txt"
# Letters of other scripts that read as Latin ones (a working subset of Unicode's
# confusables.txt for Cyrillic and Greek, the scripts that pass for Latin).
_LOOKALIKES = str.maketrans(
    "асеіјоурхѕԁһӏԛԝаеорсухвнктмɑοαυνκτρεіι",
    "aceijoypxsdhlqwaeopcyxbhktmaoauvktpeii",
)
_TRAILING_NOISE = re.compile(r"[\d\W_]+$")


def normalise_username(typed: str) -> str:
    """The form a username is stored and looked up in."""
    return unicodedata.normalize("NFKC", typed).strip().casefold()


def check_username(typed: str) -> str:
    """The normalised username, or `InvalidInput` saying what is wrong with it."""
    name = normalise_username(typed)
    if not name or len(name) > MAX_USERNAME_LENGTH or not all(ch.isalnum() or ch in "._-" for ch in name):
        raise InvalidInput(f"username must be 1-{MAX_USERNAME_LENGTH} letters, digits, '.', '_' or '-'")
    scripts = {unicodedata.name(ch, "?").split()[0] for ch in name if ch.isalpha()}
    if len(scripts) > 1:
        raise InvalidInput(f"username mixes letters of several scripts ({', '.join(sorted(scripts)).lower()})")
    return name


def skeleton(name: str) -> str:
    """What a name looks like: look-alike letters as Latin, so confusable names compare equal."""
    return normalise_username(name).translate(_LOOKALIKES)


def check_password(password: str, *, username: str) -> None:
    """`InvalidInput` for a password too short, equal to the username or common."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    folded = password.casefold()
    if username and normalise_username(username) in (folded, _TRAILING_NOISE.sub("", folded)):
        raise InvalidInput("password must not be the username")
    if folded in _common() or _TRAILING_NOISE.sub("", folded) in _common():
        raise InvalidInput("that password is among the most common ones; choose another")


@functools.cache
def _common() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.casefold() for line in lines if line and not line.startswith("#"))

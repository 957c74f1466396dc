"""Personal data taken out of free text for roles that may not see it (no `claims.view_pii`).

Masking the name and contact fields is not enough: narratives and messages repeat them
("Caller Maria Kowalski, tel +48 601 234 567") and hold other e-mail addresses, phone
numbers and dates of birth. `redact` replaces, at read time:

- the claim's own claimant name (whole, and each part of three letters or more) and
  contact value, wherever they appear, in any letter case;
- e-mail addresses;
- phone numbers: a run of at least `MIN_PHONE_DIGITS` digits, optionally starting with
  `+` and broken by spaces, dots, dashes, slashes or parentheses;
- dates of birth: a date written after "DOB", "D.O.B.", "born" or "date of birth".

Each is replaced by `MASK`. The stored text is never changed (the models read it whole);
only what is shown, searched or exported for such a role passes through here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from core import claim_store

MASK = "•••"
MIN_PHONE_DIGITS = 7
MIN_NAME_PART = 3

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
PHONE = re.compile(rf"(?<![\w+])\+?\d(?:[\s./()-]{{0,2}}\d){{{MIN_PHONE_DIGITS - 1},}}(?!\w)")
_NUMERIC_DATE = r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}"
_DATE = rf"(?:{_NUMERIC_DATE}|\d{{1,2}}\s+\w+\s+\d{{4}}|\w+\s+\d{{1,2}},?\s+\d{{4}})"
BIRTH_DATE = re.compile(
    rf"(?P<cue>\b(?:d\.?\s?o\.?\s?b\.?|born(?:\s+on)?|date\s+of\s+birth)\s*[:,]?\s*){_DATE}", re.IGNORECASE
)


def redact(text: str, *, personal: Iterable[str] = ()) -> str:
    """`text` without the personal values given (the claim's own name and contact) and
    without e-mail addresses, phone numbers and dates of birth."""
    text = EMAIL.sub(MASK, text)  # first: an address may hold the name ("maria.k@…")
    for value in _values(personal):  # whole words only: "Ann" is not taken out of "annual"
        text = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", MASK, text, flags=re.IGNORECASE)
    text = BIRTH_DATE.sub(lambda m: m.group("cue") + MASK, text)
    # A date such as 2026-03-12 has the digits of a phone number; only its birth date is personal.
    return PHONE.sub(lambda m: m.group() if re.fullmatch(_NUMERIC_DATE, m.group()) else MASK, text)


def personal_values(claim: Any) -> list[str]:
    """The claim's own personal values (the schema's `pii` fields), to pass as `personal`."""
    return [str(value or "") for value in claim_store.values(claim, claim_store.personal()).values()]


def is_personal(word: str, *, personal: Iterable[str] = ()) -> bool:
    """Whether a single word (an explanation's token) would be redacted."""
    return bool(word.strip()) and redact(word, personal=personal) != word


def _values(personal: Iterable[str]) -> list[str]:
    """The values to take out, longest first (the whole name before its parts)."""
    found: set[str] = set()
    for value in personal:
        value = (value or "").strip()
        if not value:
            continue
        found.add(value)
        found.update(part for part in re.split(r"[\s,;]+", value) if len(part) >= MIN_NAME_PART)
    return sorted(found, key=len, reverse=True)

"""Personal data out of free text: the claimant's own name and contact, e-mail addresses,
phone numbers and dates of birth, in any format, and nothing else."""

from __future__ import annotations

import re

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.redaction import MASK, is_personal, redact

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyzäöüłéñ", min_size=3, max_size=12).map(str.capitalize)
SEPARATORS = st.sampled_from(["", " ", "-", ".", "/"])
KEPT = "The parked car was hit on 2026-03-12 and the repair costs 2450 dollars."


@st.composite
def phones(draw: st.DrawFn) -> str:
    groups = draw(st.lists(st.text(alphabet="0123456789", min_size=2, max_size=4), min_size=3, max_size=4))
    separator = draw(SEPARATORS)
    number = separator.join(groups)
    assume(sum(len(g) for g in groups) >= 7)
    return draw(st.sampled_from(["", "+", "+48 ", "(0)"])) + number


@st.composite
def emails(draw: st.DrawFn) -> str:
    local = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._+-", min_size=1, max_size=12))
    assume(local[0].isalnum() and local[-1].isalnum())
    domain = draw(st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=10))
    return f"{local}@{domain}.{draw(st.sampled_from(['com', 'co.uk', 'pl', 'example']))}"


BIRTH_DATES = st.sampled_from(["12/03/1980", "1980-03-12", "12.03.1980", "3 March 1980", "March 3, 1980"])
DOB_CUES = st.sampled_from(["DOB", "D.O.B.", "dob:", "born", "born on", "date of birth"])


@settings(max_examples=300, deadline=None)
@given(first=NAMES, last=NAMES, phone=phones(), email=emails(), dob=BIRTH_DATES, cue=DOB_CUES)
def test_the_claimants_name_contact_and_other_personal_data_are_taken_out(
    first: str, last: str, phone: str, email: str, dob: str, cue: str
) -> None:
    assume(not {first.lower(), last.lower()} & set(re.findall(r"\w+", KEPT.lower() + " caller tel wrote from")))
    text = f"Caller {first} {last.upper()} ({cue} {dob}, tel {phone}) wrote from {email}. {KEPT}"
    shown = redact(text, personal=[f"{first} {last}", phone])
    for value in (first, last, phone, email, dob):
        assert value.lower() not in shown.lower(), (value, shown)
    assert shown.endswith(KEPT), shown  # dates, amounts and words that are no personal data stay
    assert MASK in shown


def test_a_name_is_taken_out_as_a_whole_word_only() -> None:
    assert redact("Ann filed an annual claim; ANN called.", personal=["Ann Lee"]) == (
        f"{MASK} filed an annual claim; {MASK} called."
    )


def test_single_words_of_an_explanation() -> None:
    assert is_personal("kowalski", personal=["Maria Kowalski"]) and is_personal("maria@example.com")
    assert not is_personal("storm", personal=["Maria Kowalski"]) and not is_personal("2026-03-12")

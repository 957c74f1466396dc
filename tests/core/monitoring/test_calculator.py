"""The drift report's stored words: what managers see of the narratives."""

from __future__ import annotations

import pandas as pd

from core.monitoring import calculator, drift


def narratives(names: list[str], text: str) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "narrative": [text.format(name=name) for name in names],
            "claimant_name": names,
            "claimant_contact": [f"{name.split()[0].lower()}@example.com" for name in names],
        }
    )


def test_changed_terms_hold_no_claimant_name_or_contact_even_when_it_recurs() -> None:
    reference = narratives(["Jan Nowak", "Eva Berg", "Tom Hale", "Liam Byrne"] * 10, "{name} reported a cracked pipe")
    kowalskis = ["Maria Kowalski", "Piotr Kowalski", "Anna Kowalski", "Ewa Kowalski"] * 10
    current = narratives(kowalskis, "Caller {name} reported storm damage, reach her at +48 601 234 567")
    terms = {
        t["term"]
        for t in drift.changed_terms(calculator.narratives(reference, 40, 2), calculator.narratives(current, 40, 3))
    }
    assert "storm" in terms  # what changed is still found
    assert not terms & {"kowalski", "maria", "piotr", "anna", "ewa", "nowak", "byrne"}


def test_narratives_without_personal_fields_filled_are_sampled_as_they_are() -> None:
    frame = pd.DataFrame(
        {"narrative": ["hail on the roof", None], "claimant_name": [None, None], "claimant_contact": [None, None]}
    )
    assert sorted(calculator.narratives(frame, 5, 0)) == ["", "hail on the roof"]


def test_a_claim_without_a_segment_value_is_in_no_segment_and_breaks_no_report() -> None:
    regions = ["north", None, "south", None] * 30  # "?" in the file: no value
    frame = pd.DataFrame({"line_of_business": ["auto"] * 120, "region": regions})
    segments = [name for name, _, _ in calculator._segments(frame, frame, min_rows=10)]
    assert segments == ["all", "line_of_business=auto", "region=north", "region=south"]

"""Spreadsheet files: every cell quoted; a formula at a cell's start or after a separator
is defused, and what is not a formula is left as it was."""

from __future__ import annotations

import csv
import io

import pytest

from core import exports


@pytest.mark.parametrize(
    "cell",
    [
        "=cmd|' /C calc'!A0",
        "x;=cmd|' /C calc'!A0",
        "a,+1+1",
        "note | @SUM(A1:A9)",
        'first line\n=HYPERLINK("http://evil.example","x")',
        "\t=1+1",
        "  -2+3",
    ],
)
def test_a_formula_anywhere_a_spreadsheet_starts_a_cell_is_defused(cell: str) -> None:
    assert exports.safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["plain text", "a - b", "total = 3", "e-mail a@b.example", 42, -1.5, None])
def test_text_and_numbers_that_are_no_formula_stay_as_they_are(cell: object) -> None:
    assert exports.safe_cell(cell) == cell


def test_every_cell_is_quoted_and_round_trips() -> None:
    out = io.StringIO()
    exports.write_csv(out, ["a", "b"], [["x;=1", 7], [None, 'say "hi", then go']])
    assert out.getvalue().splitlines()[1] == '"\'x;=1","7"'
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [["a", "b"], ["'x;=1", "7"], ["", 'say "hi", then go']]

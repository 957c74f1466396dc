"""Files that people open in a spreadsheet (the audit CSV, the rejected-rows file): every
cell quoted, and any cell a spreadsheet could run as a formula defused.

A spreadsheet runs a cell as a formula when it starts with `=`, `+`, `-` or `@` (tab and
carriage return also lead there), and some split a cell at `;`, `,`, `|` or a line break
and read what follows as a new cell. So a cell with a formula start at its beginning or
right after any of those separators is prefixed with `'`, which spreadsheets show as
text (OWASP, "CSV Injection")."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from typing import IO

FORMULA_START = re.compile(r"(?:^|[;,|\t\r\n])\s*[=+\-@\t\r]")


def safe_cell(value: object) -> object:
    """The value as a spreadsheet should show it: text, never a formula."""
    if isinstance(value, str) and FORMULA_START.search(value):
        return "'" + value
    return value


def write_csv(out: IO[str], header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """Write a header and rows with every cell quoted and defused."""
    writer = csv.writer(out, quoting=csv.QUOTE_ALL)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if cell is None else safe_cell(cell) for cell in row])

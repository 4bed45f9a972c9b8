"""Cells of exported files (CSV, xlsx) written so that no data string becomes a formula.

Names from the site file, comments and transcripts are untrusted: a department called
``=cmd|' /C calc'!A0`` must reach a spreadsheet as text, never as a live formula. Every CSV
and xlsx the project writes goes through this module (it lives in ``models`` so that
``scoring`` and ``attendance`` both use it).

CSV follows the OWASP CSV-injection rules: a text field starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return gets a leading single quote, and every text field is quoted.
In xlsx, a text cell is stored as a string with Excel's quote-prefix style (as if typed with a
leading apostrophe), so it stays text even when edited. Numbers, dates and booleans stay what
they are in both.
"""

from __future__ import annotations

import csv
import re
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO, Any, Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# XML 1.0 forbids these control characters; openpyxl refuses them (IllegalCharacterError)
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_PLAIN = (bool, int, float, Decimal, date, datetime, time)


def csv_field(value: Any) -> Any:
    """``value`` as a safe CSV field: None empty, numbers as they are, text prefixed if it could start a formula."""
    if value is None:
        return ""
    if isinstance(value, _PLAIN) and not isinstance(value, (date, datetime, time)):
        return value
    text = value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_writer(out: IO[str]):
    """A ``csv.writer`` that quotes every text field (numbers unquoted); pass rows through :func:`csv_row`."""
    return csv.writer(out, quoting=csv.QUOTE_NONNUMERIC, lineterminator="\n")


def csv_row(values: Iterable[Any]) -> list[Any]:
    """One row of :func:`csv_field` values."""
    return [csv_field(v) for v in values]


def write_csv(out: IO[str], header: Iterable[Any] | None, rows: Iterable[Iterable[Any]]) -> None:
    """Write a header line (if any) and ``rows`` to ``out`` as safe CSV."""
    writer = csv_writer(out)
    if header is not None:
        writer.writerow(csv_row(header))
    for row in rows:
        writer.writerow(csv_row(row))


def append_row(sheet, values: Iterable[Any]) -> list:
    """Append a row to an openpyxl worksheet with every text cell stored as text (never a formula).

    Returns:
        The row's cells (e.g. to make a header bold).
    """
    from openpyxl.cell.cell import Cell

    values = [None if v is None else v if isinstance(v, _PLAIN) else _ILLEGAL_XML.sub("", str(v)) for v in values]
    # the cells are made here and appended (reading the row back, sheet[max_row], walks every cell: quadratic)
    cells = [Cell(sheet, value=value) for value in values]
    for cell, value in zip(cells, values):
        if isinstance(value, str):
            cell.data_type = "s"  # openpyxl makes a string starting with "=" a formula: undo that
            cell.quotePrefix = True
    sheet.append(cells)
    return cells

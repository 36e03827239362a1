"""CSV downloads of the dashboard tables, safe to open in a spreadsheet.

Formula injection: a spreadsheet runs a cell that starts with =, +, -, @ (or a tab
or carriage return that hides one) as a formula, so text we did not write (a survey
comment, a tag or agent name) could run `=HYPERLINK(...)` on the reader's machine.
`safe_cell` prefixes such text with a single quote, also when the dangerous
character comes after leading spaces. Only strings are guarded: numbers we compute
(int, float, Decimal) are written as numbers, so -12.5 stays a number a spreadsheet
can sum. User text that merely looks numeric ("-12") is still text and is guarded.
"""

import csv
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.http import HttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A value ready for a CSV cell: None empty, numbers as they are, text guarded."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS) or text.lstrip().startswith(FORMULA_STARTS):
        return "'" + text
    return text


def csv_text(header: Sequence[Any], rows: Iterable[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(cell) for cell in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()


def csv_response(
    filename: str, header: Sequence[Any], rows: Iterable[Sequence[Any]]
) -> HttpResponse:
    """A download; `filename` is ours (ASCII, no quotes), never user text."""
    response = HttpResponse(csv_text(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response

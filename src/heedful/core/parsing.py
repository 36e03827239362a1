"""Reading ids out of request parameters.

`str.isdigit()` is true for "²" and other digits `int()` refuses, and a 30-digit
number overflows the database's 64-bit integers; both were 500s. Every view
reads ids through here instead.
"""

import re

_ID = re.compile(r"[0-9]{1,18}")


def parse_id(value: object) -> int | None:
    """The id in `value` (ASCII digits, surrounding spaces allowed), else None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    return int(text) if _ID.fullmatch(text) else None

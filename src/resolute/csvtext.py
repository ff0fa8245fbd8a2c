"""Small pieces every reader of outside CSV files needs (the Kiel tracker, ACLED, UCDP): where
a character is, which delimiter a header uses, how column names are compared, what csv's errors
mean to a user, and the process-wide field-size limit restored after reading. No Django."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager


def line_at(text_or_bytes, index: int) -> int:
    """1-based line number of position `index` in text or bytes."""
    newline = b"\n" if isinstance(text_or_bytes, (bytes, bytearray)) else "\n"
    return 1 + text_or_bytes[:index].count(newline)


def sniff_delimiter(text: str) -> str:
    # These files' headers hold no delimiters of their own, so the most frequent candidate on the
    # header line is the delimiter: ',' as published, ';' after a European Excel, a tab after
    # Excel's "Unicode text".
    first = next((line for line in io.StringIO(text, newline="") if line.strip()), "")
    counts = {d: first.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def column_key(name: str) -> str:
    """Releases differ in case ("EVENT_ID_CNTY") and in "Activity ID" versus "activity_id"."""
    return re.sub(r"[\s\-]+", "_", name.strip().casefold())


def csv_message(exc: csv.Error, max_field: int) -> str:
    """What a csv.Error means to the person who made the file."""
    messages = (
        ("field larger than field limit", f"a cell longer than {max_field} characters"),
        ("unexpected end of data", "a quoted cell is never closed (mismatched quotes)"),
        ("expected after", "text after a closing quote (mismatched quotes)"),
        ("new-line character seen in unquoted field", "a carriage return inside an unquoted cell"),
    )
    text = str(exc)
    reason = next((m for key, m in messages if key in text.casefold()), text)
    return f"malformed CSV: {reason}; reading stopped here"


@contextmanager
def field_limit(max_field: int) -> Iterator[None]:
    # The limit is process-wide: restore the caller's value once the file is read.
    previous = csv.field_size_limit(max_field)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


class TooManyProblems(Exception):
    """Raised by Problems once its limit is reached: the reader stops there."""


class Bad(ValueError):
    """A cell that cannot be read; the message goes into the error list."""


class Problems:
    """Every problem of a file, as {line, field, message}, up to `limit` (then `truncated`)."""

    def __init__(self, limit: int = 200):
        self.items: list[dict] = []
        self.truncated = False
        self.limit = limit

    def add(self, line: int, field: str | None, message: str) -> None:
        if len(self.items) >= self.limit:
            self.truncated = True
            raise TooManyProblems
        self.items.append({"line": line, "field": field, "message": message})

"""Small pieces every reader of outside CSV files needs (the Kiel tracker, ACLED, UCDP): where
a character is, which delimiter a header uses, how column names are compared, what csv's errors
mean to a user, and the process-wide field-size limit restored after reading. No Django."""

from __future__ import annotations

import codecs
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


# Well-formed multi-byte UTF-8 sequences: a file holding them is UTF-8, so a bad byte elsewhere
# is damage (or two files pasted together), not a sign of another encoding.
_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def decode_file(data: bytes | str, max_bytes: int, problems: Problems, *, windows_1252: bool = False, not_utf8: str = "not UTF-8 text") -> str | None:
    """An outside file's text, or None with the problem recorded at its line. Size is checked
    before anything else, so an oversized file costs no parsing. UTF-16 with a byte order mark
    (Excel's "Unicode text") and UTF-8 with or without one are read; with `windows_1252`, a file
    with no UTF-8 sequence at all is read as Windows-1252 (older spreadsheet exports). No other
    guessing: place names with diacritics would be garbled silently."""
    if isinstance(data, str):
        # Measured before encoding: a huge str is refused without first doubling it in memory.
        if len(data) > max_bytes:
            problems.add(1, None, f"file larger than {max_bytes} bytes")
            return None
        try:
            size = len(data.encode("utf-8"))
        except UnicodeEncodeError as exc:
            # A lone surrogate: not text, and it would fail later in the database or an export.
            problems.add(line_at(data, exc.start), None, "invalid character (lone surrogate) in the text")
            return None
        if size > max_bytes:
            problems.add(1, None, f"file larger than {max_bytes} bytes")
            return None
        return data.removeprefix("\ufeff")
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("parse() takes the file's bytes or its text")
    data = bytes(data)
    if len(data) > max_bytes:
        problems.add(1, None, f"file larger than {max_bytes} bytes")
        return None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16").removeprefix("\ufeff")
        except UnicodeDecodeError:
            problems.add(1, None, "not valid UTF-16 text despite its byte order mark")
            return None
    if data.startswith(codecs.BOM_UTF8):
        # A byte order mark declares UTF-8: a bad byte after it is damage, not another encoding.
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.add(line_at(data, exc.start + 3), None, "not valid UTF-8 text despite its byte order mark" if windows_1252 else not_utf8)
            return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = exc.start
    if not windows_1252:
        problems.add(line_at(data, bad), None, not_utf8)
        return None
    if _UTF8_SEQUENCE.search(data):
        problems.add(line_at(data, bad), None, "mixed encodings: UTF-8 text with a byte that is not UTF-8")
        return None
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        problems.add(line_at(data, exc.start), None, "neither UTF-8 nor Windows-1252 text")
        return None

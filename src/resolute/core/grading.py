"""Admiralty (NATO) source grading, reference/grading.md."""

from __future__ import annotations

import re

RELIABILITY = {
    "A": "completely reliable",
    "B": "usually reliable",
    "C": "fairly reliable",
    "D": "not usually reliable",
    "E": "unreliable",
    "F": "reliability cannot be judged",
}
CREDIBILITY = {
    1: "confirmed by other sources",
    2: "probably true",
    3: "possibly true",
    4: "doubtful",
    5: "improbable",
    6: "truth cannot be judged",
}
_GRADE = re.compile(r"^([A-F])([1-6])$")


def parse_grade(text: str) -> tuple[str, int]:
    """'B2' -> ('B', 2). Raises ValueError naming what is wrong."""
    m = _GRADE.match(text.strip().upper()) if isinstance(text, str) else None
    if not m:
        raise ValueError("grade must be a reliability letter A-F followed by a credibility digit 1-6, e.g. 'B2'")
    return m.group(1), int(m.group(2))


YARDSTICK = (
    (0.05, "remote"),
    (0.20, "highly unlikely"),
    (0.35, "unlikely"),
    (0.50, "realistic possibility"),
    (0.75, "likely"),
    (0.90, "highly likely"),
    (1.00, "almost certain"),
)


def yardstick(p: float) -> str:
    """UK probability yardstick word for p in [0, 1]. Gaps between the yardstick's bands go to
    the nearer lower band's word, except that the top band starts at 0.95."""
    if not 0.0 <= p <= 1.0:
        raise ValueError("probability out of [0, 1]")
    if p >= 0.95:
        return "almost certain"
    for upper, word in YARDSTICK[:-1]:
        if p <= upper:
            return word
    return "highly likely"

"""The marking lattice: classification, TLP 2.0 and releasability (DESIGN.md, Markings).

Three independent axes. A reader may see a record only when
  * the reader's clearance dominates the record's classification,
  * the reader's nation is in the record's releasability list (or the list is ALL),
  * the TLP allows it: TLP:RED is for named recipients, which in this system means the
    originator's nation; the public (anonymous readers and the `public` role) sees only
    TLP:CLEAR, PUBLIC, releasable to ALL.
The database filter in `resolute.accounts.restrict` implements exactly `may_read` below;
tests check the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum

ALL = "ALL"


class Classification(IntEnum):
    PUBLIC = 0
    RESTRICTED = 1
    CONFIDENTIAL = 2
    SECRET = 3


TLP_LEVELS = ("CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")


@dataclass(frozen=True)
class Marking:
    classification: Classification = Classification.RESTRICTED
    tlp: str = "AMBER"
    releasable_to: tuple[str, ...] = (ALL,)
    originator: str = ""

    def __post_init__(self) -> None:
        if self.tlp not in TLP_LEVELS:
            raise ValueError(f"unknown TLP level {self.tlp!r}")
        if not self.releasable_to:
            raise ValueError("releasable_to must name ALL or at least one nation")


@dataclass(frozen=True)
class Reader:
    """Who is reading: clearance, nation (ISO 3166 alpha-3) and whether they are the public."""

    clearance: Classification = Classification.PUBLIC
    nation: str = ""
    public: bool = True
    extra: dict = field(default_factory=dict, compare=False)


def encode_releasability(codes: tuple[str, ...] | list[str]) -> str:
    """Store the REL TO list as '|FRA|USA|' so a substring match on '|FRA|' is exact
    on every database backend (no array types: the schema must not depend on one backend)."""
    norm = sorted({c.strip().upper() for c in codes if c and c.strip()})
    if ALL in norm:
        norm = [ALL]
    return "|" + "|".join(norm) + "|"


def decode_releasability(stored: str) -> tuple[str, ...]:
    return tuple(c for c in stored.split("|") if c)


def may_read(reader: Reader, marking: Marking) -> bool:
    if reader.public:
        return (
            marking.classification == Classification.PUBLIC
            and marking.tlp == "CLEAR"
            and ALL in marking.releasable_to
        )
    if marking.classification > reader.clearance:
        return False
    if marking.tlp == "RED" and reader.nation != marking.originator:
        return False
    return ALL in marking.releasable_to or reader.nation in marking.releasable_to or (
        reader.nation != "" and reader.nation == marking.originator
    )


def combine(markings) -> Marking:
    """The most restrictive marking of several records: what a record built from all of them
    (an incident from observations, a case from its evidence) must carry so that it never
    reveals more than its least releasable input.

    Highest classification and TLP; REL TO the nations every input is releasable to (ALL is
    neutral); when those lists share no nation, originator-only. The originator is the common
    one, else the most restrictive input's (its RED or originator-only terms must keep holding).
    """
    markings = list(markings)
    if not markings:
        raise ValueError("combine needs at least one marking")
    strict = max(markings, key=lambda m: (int(m.classification), TLP_LEVELS.index(m.tlp)))
    rel: set[str] | None = None
    for m in markings:
        if ALL not in m.releasable_to:
            rel = set(m.releasable_to) if rel is None else rel & set(m.releasable_to)
    origins = {m.originator for m in markings}
    originator = origins.pop() if len(origins) == 1 else strict.originator
    if rel is None:
        releasable: tuple[str, ...] = (ALL,)
    elif rel:
        releasable = tuple(sorted(rel))
    else:
        releasable = (originator or "ZZZ",)
    return Marking(
        classification=Classification(max(int(m.classification) for m in markings)),
        tlp=max((m.tlp for m in markings), key=TLP_LEVELS.index),
        releasable_to=releasable,
        originator=originator,
    )

"""The Special Commission's decision rule: quorum, then consensus or a (qualified) majority.

Seats are members' ISO 3166 alpha-3 codes, one ballot per seat. Quorum counts every ballot cast,
abstentions included; the majorities count only yes and no. Fractions (quorum, threshold) are
compared in exact rational arithmetic: a float is read as the nearest fraction with a denominator
of at most a million, so 2/3 (0.666…) or 0.8 mean exactly two thirds and four fifths, and
2/3 of 9 seats is 6, not 7.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from fractions import Fraction
from numbers import Real

CHOICES = ("yes", "no", "abstain")
MODES = ("consensus", "qualified_majority", "simple_majority")


def _exact(x: float) -> Fraction:
    # Binary floats miss most decimals (0.8 is stored slightly above 4/5, which would make 4 of 5
    # fall short); rules are written as simple fractions, which this recovers.
    return Fraction(x).limit_denominator(10**6)


def _is_number(x) -> bool:
    return isinstance(x, Real) and not isinstance(x, bool)


@dataclass(frozen=True)
class DecisionRule:
    """quorum: fraction of seats that must cast a ballot, 0 < quorum <= 1.
    mode: "consensus" (no objection, at least one yes), "qualified_majority" (yes / (yes + no)
    reaches threshold, 1/2 < threshold <= 1) or "simple_majority" (more yes than no).
    casting_vote: in simple majority, the chair's yes or no decides an exact tie."""

    quorum: float = 2 / 3
    mode: str = "qualified_majority"
    threshold: float = 2 / 3
    casting_vote: bool = True

    def __post_init__(self) -> None:
        if not (_is_number(self.quorum) and 0 < self.quorum <= 1):
            raise ValueError(f"quorum must be a fraction of seats in (0, 1], got {self.quorum!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        # At 1/2 or below a qualified majority would adopt ties or minorities.
        if not (_is_number(self.threshold) and 0.5 < self.threshold <= 1):
            raise ValueError(f"threshold must be a fraction in (1/2, 1], got {self.threshold!r}")
        if not isinstance(self.casting_vote, bool):
            raise ValueError(f"casting_vote must be true or false, got {self.casting_vote!r}")

    @classmethod
    def from_mapping(cls, d: Mapping) -> DecisionRule:
        """Build from stored settings (e.g. JSON); missing keys take the defaults.
        Raises ValueError naming an unknown or invalid key."""
        if not isinstance(d, Mapping):
            raise ValueError("a decision rule must be a mapping of settings")
        known = {f.name for f in fields(cls)}
        for key in d:
            if key not in known:
                raise ValueError(f"{key!r} is not a decision rule setting (known: {', '.join(sorted(known))})")
        return cls(**d)


@dataclass(frozen=True)
class Ballot:
    seat: str  # the member's ISO 3166 alpha-3 code
    choice: str  # one of CHOICES; tally() refuses anything else


@dataclass(frozen=True)
class Outcome:
    adopted: bool
    quorum_met: bool
    seats: int
    cast: int
    yes: int
    no: int
    abstain: int
    required_for_quorum: int
    casting_vote_used: bool
    reason: str


def tally(seats: Sequence[str], ballots: Sequence[Ballot], rule: DecisionRule, chair_seat: str | None = None) -> Outcome:
    """Count the ballots of the Commission's `seats` under `rule`.

    Raises ValueError for no seats, a seat listed twice, a chair who holds no seat, a ballot from
    outside the Commission, a second ballot from one seat, or an unknown choice."""
    members = list(seats)
    if not members:
        raise ValueError("the Commission has no seats")
    if len(set(members)) != len(members):
        raise ValueError("a seat is listed twice")
    if chair_seat is not None and chair_seat not in members:
        raise ValueError(f"chair {chair_seat!r} is not a member of the Commission")
    choice_of: dict[str, str] = {}
    for b in ballots:
        if b.seat not in members:
            raise ValueError(f"ballot from {b.seat!r}: not a member of the Commission")
        if b.seat in choice_of:
            raise ValueError(f"second ballot from {b.seat!r}: one ballot per seat")
        if b.choice not in CHOICES:
            raise ValueError(f"ballot from {b.seat!r}: unknown choice {b.choice!r} (yes, no or abstain)")
        choice_of[b.seat] = b.choice

    n, cast = len(members), len(choice_of)
    yes, no, abstain = (sum(c == k for c in choice_of.values()) for k in CHOICES)
    q = _exact(rule.quorum)
    required = -(-q.numerator * n // q.denominator)  # ceil(q × n) in integers
    used = False
    if cast < required:
        adopted, why = False, f"no quorum: {required} ballots needed ({q} of {n} seats)"
    elif rule.mode == "consensus":
        adopted = yes > 0 and no == 0
        why = ("consensus: at least one yes and no objection" if adopted
               else f"consensus blocked by {no} no" if no else "consensus needs at least one yes")
    elif rule.mode == "qualified_majority":
        t = _exact(rule.threshold)
        adopted = yes > 0 and yes >= t * (yes + no)
        why = f"{yes} of {yes + no} yes-or-no votes {'reach' if adopted else 'fall short of'} the {t} qualified majority"
    else:
        chair = choice_of.get(chair_seat) if chair_seat is not None else None
        if yes == no and yes > 0 and rule.casting_vote and chair in ("yes", "no"):
            adopted, used = chair == "yes", True
            why = f"a tie decided by the chair's ({chair_seat}) casting vote, {chair}"
        else:
            adopted = yes > no
            why = ("simple majority: more yes than no" if adopted
                   else "a tie without a casting vote" if yes == no and yes > 0 else "simple majority not reached")
    reason = (f"{'Adopted' if adopted else 'Not adopted'}: {cast} of {n} seats voted "
              f"({yes} yes, {no} no, {abstain} abstaining); {why}.")
    return Outcome(adopted, cast >= required, n, cast, yes, no, abstain, required, used, reason)

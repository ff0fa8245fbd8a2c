"""Force generation for the Multinational Force Ukraine (element 3), after NATO practice
(reference/guarantees.md): a statement of requirements lists capabilities, not nations; members
offer contributions; each requirement has a fill rate; contributions carry caveats.

Readiness is in whole days from the order to move. Tiers (upper bound inclusive):
t10 up to 10 days, t30 more than 10 and up to 30, t180 more than 30 and up to 180.
An offer moves offered -> accepted -> certified -> deployed -> transfer_of_authority, and may be
declined (while offered) or withdrawn (until it deploys). The force deploys only at Ukraine's
request after a reliable cessation of hostilities (Paris declaration, 6 January 2026).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from resolute.core.workflow import StateMachine

# tier -> (lower bound exclusive, upper bound inclusive), days; t10 also takes 0 (already in place).
TIERS = {"t10": (0, 10), "t30": (10, 30), "t180": (30, 180)}

OFFER = StateMachine(
    name="offer",
    initial="offered",
    transitions={
        ("offered", "accept"): "accepted",
        ("offered", "decline"): "declined",
        ("accepted", "certify"): "certified",
        ("certified", "deploy"): "deployed",
        ("deployed", "transfer_authority"): "transfer_of_authority",
        # Once deployed, leaving is a redeployment decision, not a withdrawn offer.
        ("offered", "withdraw"): "withdrawn",
        ("accepted", "withdraw"): "withdrawn",
        ("certified", "withdraw"): "withdrawn",
    },
    final=frozenset({"declined", "withdrawn", "transfer_of_authority"}),
)
COUNTING = ("accepted", "certified", "deployed", "transfer_of_authority")  # offers that fill a requirement
_GONE = ("declined", "withdrawn")  # offers that no longer exist for planning


def _whole(x, low: int) -> bool:
    return isinstance(x, int) and not isinstance(x, bool) and x >= low


def tier_of(days: int) -> str | None:
    """The readiness tier of `days` (whole days >= 0); None beyond 180 days."""
    if not _whole(days, 0):
        raise ValueError(f"readiness must be a whole number of days >= 0, got {days!r}")
    return next((t for t, (_, high) in TIERS.items() if days <= high), None)


@dataclass(frozen=True)
class Requirement:
    """quantity: units of the requirement's own kind (battalions, aircraft, teams), >= 1."""

    id: int
    code: str
    capability: str
    quantity: int
    tier: str
    location: str
    lead_nation: str  # ISO 3166 alpha-3
    enabler: bool = False  # US enablers: intelligence, logistics

    def __post_init__(self) -> None:
        if not _whole(self.quantity, 1):
            raise ValueError(f"requirement {self.code}: quantity must be a whole number >= 1, got {self.quantity!r}")
        if self.tier not in TIERS:
            raise ValueError(f"requirement {self.code}: tier must be one of {', '.join(TIERS)}, got {self.tier!r}")


@dataclass(frozen=True)
class Offer:
    """size: in the requirement's units; readiness_days: whole days to be ready to move."""

    id: int
    requirement_id: int
    member: str  # ISO 3166 alpha-3
    unit: str
    size: int
    readiness_days: int
    status: str
    caveats: str = ""

    def __post_init__(self) -> None:
        if not _whole(self.size, 1):
            raise ValueError(f"offer {self.id}: size must be a whole number >= 1, got {self.size!r}")
        if not _whole(self.readiness_days, 0):
            raise ValueError(f"offer {self.id}: readiness_days must be a whole number >= 0, got {self.readiness_days!r}")
        if self.status not in OFFER.states():
            raise ValueError(f"offer {self.id}: unknown status {self.status!r}")


def advance(offer: Offer, action: str) -> Offer:
    """The offer after `action`; raises IllegalTransition (a ValueError) when not allowed."""
    return replace(offer, status=OFFER.next(offer.status, action))


@dataclass(frozen=True)
class Fill:
    requirement_id: int
    quantity: int
    filled: int  # sum of sizes of counting offers, uncapped (shows over-subscription)
    offered: int  # filled plus offers still awaiting a decision
    rate: float  # min(filled, quantity) / quantity, 0..1
    gap: int  # max(quantity - filled, 0)


def _index(reqs: Iterable[Requirement]) -> dict[int, Requirement]:
    out: dict[int, Requirement] = {}
    for r in reqs:
        if r.id in out:
            raise ValueError(f"requirement id {r.id} appears twice")
        out[r.id] = r
    return out


def fill_rates(reqs: Iterable[Requirement], offers: Iterable[Offer]) -> dict[int, Fill]:
    """Fill of each requirement by id. Offers against requirements not in `reqs` are ignored, so
    a caller may pass the offers of a wider set than the requirements it shows."""
    index = _index(reqs)
    filled = dict.fromkeys(index, 0)
    offered = dict.fromkeys(index, 0)
    for o in offers:
        if o.requirement_id not in index or o.status in _GONE:
            continue
        offered[o.requirement_id] += o.size
        if o.status in COUNTING:
            filled[o.requirement_id] += o.size
    return {
        i: Fill(i, r.quantity, filled[i], offered[i], min(filled[i], r.quantity) / r.quantity, max(r.quantity - filled[i], 0))
        for i, r in index.items()
    }


def overall_fill(fills: Mapping[int, Fill] | Iterable[Fill]) -> float:
    """Mean of the per-requirement rates, 0..1; 0.0 when there is no requirement.

    Not total filled over total quantity: requirements count different things (a battalion, an
    aircraft, a team), so summing them would let ten filled helicopters hide a missing brigade."""
    rates = [f.rate for f in (fills.values() if isinstance(fills, Mapping) else fills)]
    return sum(rates) / len(rates) if rates else 0.0


@dataclass(frozen=True)
class Alert:
    offer_id: int
    requirement_id: int
    member: str
    kind: str  # "out_of_tier" | "caveat"
    message: str


def alerts(reqs: Iterable[Requirement], offers: Iterable[Offer]) -> list[Alert]:
    """Alerts on live offers (not declined or withdrawn), ordered by offer id:
    "out_of_tier" when readiness_days exceed the requirement tier's upper bound (the offer has
    drifted out of what the requirement needs); "caveat" (informational) when a counting offer
    carries caveats, since a caveat limits what the commander can do with the unit."""
    index = _index(reqs)
    out = []
    for o in sorted(offers, key=lambda o: o.id):
        r = index.get(o.requirement_id)
        if r is None or o.status in _GONE:
            continue
        high = TIERS[r.tier][1]
        if o.readiness_days > high:
            out.append(Alert(o.id, r.id, o.member, "out_of_tier",
                             f"{o.member} {o.unit}: ready in {o.readiness_days} days, {r.code} needs {r.tier} (<= {high} days)"))
        if o.status in COUNTING and o.caveats.strip():
            out.append(Alert(o.id, r.id, o.member, "caveat", f"{o.member} {o.unit} on {r.code}: caveats: {o.caveats.strip()}"))
    return out


@dataclass(frozen=True)
class Gate:
    open: bool
    reasons: tuple[str, ...]  # every reason it is closed, or why it is open


def deployment_gate(ukraine_request: bool, request_text: str | None, reliability_met: bool, reliability_reason: str) -> Gate:
    """Open only when Ukraine's request is recorded (flagged and its text on file) and the
    reliability condition (core.reliability.condition) is met: the declaration deploys the force
    at Ukraine's request after a reliable cessation of hostilities. Neither condition substitutes
    for the other, so a closed gate lists every missing one."""
    text = (request_text or "").strip()
    closed = []
    if not ukraine_request:
        closed.append("no request from Ukraine is recorded")
    elif not text:
        closed.append("Ukraine's request is flagged but its text is not on file")
    if not reliability_met:
        closed.append(f"no reliable cessation of hostilities: {reliability_reason or 'condition not met'}")
    if closed:
        return Gate(False, tuple(closed))
    return Gate(True, (f"Ukraine's request is recorded: {textwrap.shorten(text, 120)}",
                       f"reliable cessation of hostilities: {reliability_reason or 'condition met'}"))


def what_if(reqs: Iterable[Requirement], offers: Iterable[Offer], unavailable: Iterable[str]) -> dict[int, tuple[Fill, Fill]]:
    """Per requirement, (fill as is, fill without any offer of the members in `unavailable`);
    members not found among the offers are ignored."""
    if isinstance(unavailable, str):
        # A bare "FRA" would otherwise be read as the members "F", "R" and "A".
        raise TypeError("unavailable must be a collection of member codes, not one string")
    gone, reqs, offers = set(unavailable), list(reqs), list(offers)  # each is read twice
    now, without = fill_rates(reqs, offers), fill_rates(reqs, [o for o in offers if o.member not in gone])
    return {i: (now[i], without[i]) for i in now}

"""The support ledger's arithmetic (elements 2 and 5): stage order, conversion to EUR, totals.

A pledge moves through STAGES as append-only ledger entries. As in IATI, a change is a further
transaction, never an edit: a correction is a reversal (the exact negation of an earlier entry)
plus a new entry. Amounts are decimal.Decimal in the entry's original currency (ISO 4217); they
are converted to EUR at the rate for the entry's value date and rounded to the cent, and a total
is the sum of those rounded amounts, so it equals the sum of its lines. In-kind entries may carry
several valuation bases (the Kiel tracker's lesson: replacement cost against net book value moved
one donor's figure by billions); a total is always on one named basis and never mixes bases.

Confidential values follow docs/markings.md, "Aggregates": a figure that contains a confidential
value the reader is not cleared for is shown only when at least `min_contributors` (3) distinct
members make it up, otherwise it is withheld. The rule is applied figure by figure; it does not
stop a reader from subtracting the other members' shown totals from a shown group total.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

STAGES = ("pledge", "commitment", "allocation", "contracted", "disbursed", "shipped", "received", "verified")
# IATI 2.03 transaction types: 12 outgoing pledge, 2 outgoing commitment, 3 disbursement, 4 expenditure.
IATI_TRANSACTION_TYPE = {"pledge": 12, "commitment": 2, "allocation": 2, "contracted": 2, "disbursed": 3, "shipped": 4,
                         "received": 4, "verified": 4}
BASES = ("reported", "price_list", "replacement", "net_book_value")
DELIVERED_STAGES = ("received", "verified")  # "delivered" means received by Ukraine
OPENING_STAGES = ("pledge", "commitment", "allocation")  # Kiel records allocations announced without a prior promise
GROUPABLE = ("member", "pillar", "category", "stage")
_CENT = Decimal("0.01")


class ValuationError(ValueError):
    """A refused entry or an impossible valuation; `field` names the offending field for the problem document."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class FxTable:
    """rates: currency -> (date, EUR per one unit of the currency) in any order. A rate applies from its date
    until the next one, but not more than max_age_days (calendar days) after it: a stale rate would value an
    entry at another month's prices."""

    rates: Mapping[str, Sequence[tuple[date, Decimal]]]
    max_age_days: int = 31

    def __post_init__(self) -> None:
        index = {}
        for currency, series in self.rates.items():
            ordered = sorted(series, key=lambda dated: dated[0])
            for i, (day, rate) in enumerate(ordered):
                # A float rate would turn exact amounts inexact; two rates on one day leave the value undefined.
                if not (isinstance(rate, Decimal) and rate.is_finite() and rate > 0):
                    raise ValuationError(f"the {currency} rate of {day} must be a positive Decimal, got {rate!r}", "rates")
                if i and ordered[i - 1][0] == day:
                    raise ValuationError(f"two {currency} rates on {day}", "rates")
            index[currency] = ([d for d, _ in ordered], [r for _, r in ordered])
        object.__setattr__(self, "_index", index)  # sorted once: every entry of a ledger is converted

    def eur_per_unit(self, currency: str, on: date) -> Decimal:
        """EUR per one unit of `currency` on date `on`: the latest rate dated on or before `on` and at most
        max_age_days older. EUR is 1. Raises ValuationError(field="currency") when there is none."""
        if currency == "EUR":
            return Decimal(1)
        days, rates = self._index.get(currency, ((), ()))
        i = bisect_right(days, on)
        if i == 0:
            raise ValuationError(f"no EUR rate for {currency} on or before {on}", "currency")
        if (on - days[i - 1]).days > self.max_age_days:
            raise ValuationError(f"no EUR rate for {currency} on or before {on} within {self.max_age_days} days "
                                 f"(the latest is of {days[i - 1]})", "currency")
        return rates[i - 1]

    def to_eur(self, amount: Decimal, currency: str, on: date) -> Decimal:
        """`amount` (Decimal, in `currency`) in EUR at the rate for `on`, rounded to the cent half-to-even, so
        that rounding over many lines does not drift one way. A float amount raises TypeError."""
        return (amount * self.eur_per_unit(currency, on)).quantize(_CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Entry:
    """One ledger line. values: basis -> amount in the original `currency` (financial entries carry only
    "reported"); value_date: the date whose rate converts it to EUR. funded_by: the id of the entry that
    finances this one, or a tuple of ids when several do (a pooled purchase); see effective()."""

    id: int
    pledge_id: int
    member: str  # ISO 3166 alpha-3, or EUU for the EU institutions
    pillar: str  # "support" (element 2), "cooperation" (element 5), "humanitarian"
    category: str
    stage: str
    value_date: date
    currency: str
    values: Mapping[str, Decimal]
    quantity: int | None = None
    reversal_of: int | None = None
    funded_by: int | tuple[int, ...] | None = None
    confidential: bool = False


@dataclass(frozen=True)
class Figure:
    """A total in EUR (None when withheld) and what stands behind it; counts are of ledger entries."""

    eur: Decimal | None
    entries: int  # entries whose value on the basis is in eur
    contributors: int  # distinct members among those entries
    unvalued: int  # counted entries without a value on the basis: left out of eur, reported here
    excluded_double_counted: int
    withheld: bool
    confidential_included: bool


def _rank(stage: str) -> int:
    if stage not in STAGES:
        raise ValuationError(f"unknown stage {stage!r} (stages: {', '.join(STAGES)})", "stage")
    return STAGES.index(stage)


def _live(entries: Sequence[Entry]) -> list[Entry]:
    """Entries neither reversed nor reversals. check_sequence refuses to reverse a reversal, so each pair
    cancels exactly and dropping both is the same as netting them."""
    reversed_ids = {e.reversal_of for e in entries if e.reversal_of is not None}
    return [e for e in entries if e.reversal_of is None and e.id not in reversed_ids]


def check_sequence(existing: Sequence[Entry], new: Entry) -> None:
    """Refuse `new` unless it may be appended to its pledge, whose entries are among `existing` (entries of
    other pledges are ignored). Raises ValuationError naming the field:
    - stage: unknown; a pledge's first live entry is not pledge, commitment or allocation; or earlier than
      the furthest stage its live (non-reversed) entries reached. Skipping forward and repeating the current
      stage (a further tranche) are allowed; reversals are exempt, so any live entry can be corrected.
    - currency: not three capital letters. values: empty, unknown basis, not a finite Decimal, or negative
      outside a reversal. quantity: negative outside a reversal.
    - reversal_of: the target is not an entry of this pledge, is a reversal itself (reinstate with a new
      entry instead), is already reversed, or its stage, currency and values are not mirrored exactly."""
    _rank(new.stage)
    if not (isinstance(new.currency, str) and len(new.currency) == 3 and new.currency.isascii()
            and new.currency.isalpha() and new.currency.isupper()):
        raise ValuationError(f"currency must be three capital letters (ISO 4217), got {new.currency!r}", "currency")
    if not new.values and new.reversal_of is None:
        raise ValuationError("an entry needs a value on at least one basis", "values")
    for basis, amount in new.values.items():
        if basis not in BASES:
            raise ValuationError(f"unknown basis {basis!r} (bases: {', '.join(BASES)})", "values")
        if not (isinstance(amount, Decimal) and amount.is_finite()):
            raise ValuationError(f"the {basis} amount must be a finite Decimal, got {amount!r}", "values")
        if amount < 0 and new.reversal_of is None:
            raise ValuationError("negative amounts only as explicit reversals", "values")
    if new.quantity is not None and new.quantity < 0 and new.reversal_of is None:
        raise ValuationError("negative quantities only as explicit reversals", "quantity")

    mine = [e for e in existing if e.pledge_id == new.pledge_id]
    if new.reversal_of is not None:
        target = next((e for e in mine if e.id == new.reversal_of), None)
        if target is None:
            raise ValuationError(f"entry {new.reversal_of} is not an entry of pledge {new.pledge_id}", "reversal_of")
        if target.reversal_of is not None:
            raise ValuationError(f"entry {target.id} is a reversal; record a new entry instead", "reversal_of")
        if any(e.reversal_of == target.id for e in mine):
            raise ValuationError(f"entry {target.id} is already reversed", "reversal_of")
        if (new.stage, new.currency, dict(new.values)) != (target.stage, target.currency,
                                                           {b: -v for b, v in target.values.items()}):
            raise ValuationError(f"a reversal repeats entry {target.id}'s stage and currency and negates each of "
                                 f"its values exactly", "reversal_of")
        return

    live = _live(mine)
    if not live:
        if new.stage not in OPENING_STAGES:
            raise ValuationError(f"pledge {new.pledge_id} opens with {', '.join(OPENING_STAGES)}, "
                                 f"not {new.stage!r}", "stage")
        return
    current = max((e.stage for e in live), key=_rank)
    if _rank(new.stage) < _rank(current):
        raise ValuationError(f"out of order: pledge {new.pledge_id} is already at {current!r}; "
                             f"{new.stage!r} comes before it", "stage")


def _funders(e: Entry) -> tuple[int, ...]:
    if e.funded_by is None:
        return ()
    return (e.funded_by,) if isinstance(e.funded_by, int) else tuple(e.funded_by)


def _split_double_counted(entries: Sequence[Entry]) -> tuple[list[Entry], list[Entry]]:
    """(counted, excluded) among live `entries`; the rule is effective()'s."""
    by_id = {e.id: e for e in entries}

    def links(e: Entry) -> list[Entry]:
        return [by_id[f] for f in _funders(e) if f in by_id and by_id[f].stage == e.stage]

    counted = [e for e in entries if not links(e)]
    excluded = [e for e in entries if links(e)]
    # Each excluded entry's money must reach a counted funder up its chain; a cycle would drop it everywhere.
    grounded = {e.id for e in counted}
    pending = excluded
    while pending:
        reached = [e for e in pending if any(f.id in grounded for f in links(e))]
        if not reached:
            raise ValuationError("funding cycle through entries " + ", ".join(str(e.id) for e in pending), "funded_by")
        grounded.update(e.id for e in reached)
        pending = [e for e in pending if e.id not in grounded]
    return counted, excluded


def effective(entries: Sequence[Entry]) -> list[Entry]:
    """The entries that count, in input order.

    1. A reversed entry and its reversal are both dropped.
    2. An entry is excluded as double counted when one of its funders (funded_by) is among the remaining
       entries at the SAME stage; the funder counts. Across stages nothing is excluded: a delivery must not
       vanish from the delivered figures because its funding is only promised. So link entries of the same
       stage; a stage-by-stage figure then counts the money once.
       - Reimbursement (the EU's European Peace Facility refunding a member's donation): the donation is
         funded_by the EPF entry; it counts under EUU, not under the donor. The money is the funder's: the
         reimbursed donor bears none of the cost. Record a partial refund by splitting the donation into the
         refunded part (funded_by the fund) and the member's own part.
       - Pooled purchase (several members finance one purchase, e.g. PURL): the purchase is funded_by the
         tuple of the members' share entries; it is excluded and each member's share counts.
       - Chains (A funded by B funded by C) count once, at C, the entry funded by nothing present. A funding
         cycle raises ValuationError(field="funded_by")."""
    return _split_double_counted(_live(entries))[0]


def _at(live: Sequence[Entry], choose: Callable[[set[int]], int | None]) -> list[Entry]:
    """The entries at the stage `choose` picks for each pledge from the stage ranks it reached (None: none)."""
    reached: dict[int, set[int]] = defaultdict(set)
    for e in live:
        reached[e.pledge_id].add(_rank(e.stage))
    pick = {pledge: choose(ranks) for pledge, ranks in reached.items()}
    return [e for e in live if _rank(e.stage) == pick[e.pledge_id]]


def _figures(selected: Sequence[Entry], fx: FxTable, basis: str, by: Sequence[str],
             cleared: Callable[[Entry], bool], min_contributors: int) -> dict[tuple, Figure]:
    if basis not in BASES:
        raise ValuationError(f"unknown basis {basis!r} (bases: {', '.join(BASES)})", "basis")
    for name in by:
        if name not in GROUPABLE:
            raise ValuationError(f"cannot group by {name!r} (only by {', '.join(GROUPABLE)})", "by")
    counted, excluded = _split_double_counted(selected)
    groups: dict[tuple, tuple[list[Entry], list[Entry]]] = defaultdict(lambda: ([], []))
    for side, members in ((0, counted), (1, excluded)):
        for e in members:
            groups[tuple(getattr(e, name) for name in by)][side].append(e)
    figures = {}
    for key, (kept, dropped) in groups.items():
        valued = [e for e in kept if basis in e.values]
        eur = sum((fx.to_eur(e.values[basis], e.currency, e.value_date) for e in valued), Decimal("0.00"))
        contributors = len({e.member for e in valued})
        # Only values inside the sum can leak through it: an unvalued or excluded confidential entry cannot.
        withheld = contributors < min_contributors and any(e.confidential and not cleared(e) for e in valued)
        figures[key] = Figure(eur=None if withheld else eur, entries=len(valued), contributors=contributors,
                              unvalued=len(kept) - len(valued), excluded_double_counted=len(dropped),
                              withheld=withheld,
                              confidential_included=not withheld and any(e.confidential for e in valued))
    return figures


def totals(entries: Sequence[Entry], fx: FxTable, *, basis: str = "reported", by: Sequence[str] = ("member",),
           stage: str | None = None, cleared: Callable[[Entry], bool] = lambda e: True,
           min_contributors: int = 3) -> dict[tuple, Figure]:
    """EUR totals of the ledger on `basis`, keyed by the tuple of the `by` attributes (of GROUPABLE).

    Each entry is converted at its value_date (FxTable.to_eur). Reversal pairs are dropped first. With
    `stage`, the entries at that stage count; without, each pledge counts once, at the furthest stage its live
    entries reached (the sum of its entries there, e.g. all disbursement tranches), so a pledge that was
    promised, committed and disbursed is not added up three times. Then double counting is excluded as in
    effective(), among the chosen entries. An entry without a value on `basis` is counted as unvalued.
    A group holding a confidential value for which cleared(entry) is False is withheld unless it has at least
    min_contributors distinct members. Raises ValuationError for an unknown basis, stage or grouping, a
    missing rate (field "currency") or a funding cycle."""
    live = _live(entries)
    if stage is None:
        chosen = _at(live, max)
    else:
        _rank(stage)
        chosen = [e for e in live if e.stage == stage]
    return _figures(chosen, fx, basis, by, cleared, min_contributors)


def delivery_ratio(entries: Sequence[Entry], fx: FxTable, *, basis: str = "reported",
                   cleared: Callable[[Entry], bool] = lambda e: True,
                   min_contributors: int = 3) -> dict[str, tuple[Figure, Figure, float | None]]:
    """Per member: (pledged, delivered, delivered / pledged) in EUR on `basis`.

    pledged: each pledge's value at the first stage its live entries reached (what was first announced);
    delivered: the value of the pledges that reached received or verified, at the furthest of the two.
    Withholding and double counting as in totals(). The ratio is None when either figure is withheld or
    nothing was pledged on this basis."""
    live = _live(entries)
    delivered_rank = _rank(DELIVERED_STAGES[0])
    pledged = _figures(_at(live, min), fx, basis, ("member",), cleared, min_contributors)
    delivered = _figures(_at(live, lambda ranks: max(ranks) if max(ranks) >= delivered_rank else None),
                         fx, basis, ("member",), cleared, min_contributors)
    nothing = Figure(Decimal("0.00"), 0, 0, 0, 0, False, False)
    result = {}
    for (member,) in sorted(pledged.keys() | delivered.keys()):
        p, d = pledged.get((member,), nothing), delivered.get((member,), nothing)
        result[member] = (p, d, float(d.eur / p.eur) if p.eur and d.eur is not None else None)
    return result

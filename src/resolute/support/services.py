"""Use cases of the support ledger: FX rates, pledges and their append-only ledger entries,
totals and delivery ratios, the Kiel import and the IATI export. The arithmetic is
core/valuation.py; this module checks who may write, stores, audits and reads through restrict()."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal, InvalidOperation

import pycountry
from django.db import transaction
from django.utils import timezone

from resolute.accounts import roles
from resolute.audit import services as audit
from resolute.core import valuation
from resolute.core.markings import Classification
from resolute.errors import Forbidden, InvalidInput, NotFound
from resolute.monitoring.models import CoalitionMember

from .models import CATEGORIES, FxRate, LedgerEntry, Pledge

BASES = valuation.BASES


def _may_write_for(actor, member: CoalitionMember) -> None:
    """A member's ledger officer writes only that member's entries; administrators (and system
    actors: imports, the demo) write any."""
    if isinstance(actor, str):
        return
    if actor is None or not roles.allows(actor, roles.ADD, "pledge"):
        raise Forbidden("your role may not write ledger entries")
    if actor.role != roles.Role.ADMINISTRATOR and actor.nation != member.code:
        raise Forbidden(f"you write for {actor.nation or 'no member'}, not {member.code}", [{"field": "member", "message": "not your member"}])


def _iso_currency(code: str) -> str:
    if not (isinstance(code, str) and len(code) == 3 and code.isupper() and pycountry.currencies.get(alpha_3=code)):
        raise InvalidInput("unknown currency", [{"field": "currency", "message": f"{code!r} is not an ISO 4217 code"}])
    return code


# -- FX ---------------------------------------------------------------------------------------


def load_fx_csv(actor, data: bytes | str, source: str = "csv") -> int:
    """Load EUR rates from CSV with columns date, currency, eur_per_unit (ISO dates; an ECB-style
    'units per EUR' column named per_eur is inverted). All or nothing; errors name the line."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    rows, errors = [], []
    reader = csv.DictReader(io.StringIO(text))
    fields = {(f or "").strip().lower() for f in reader.fieldnames or []}
    if not {"date", "currency"} <= fields or not ({"eur_per_unit", "per_eur"} & fields):
        raise InvalidInput("bad header", [{"field": "header", "message": "need date, currency and eur_per_unit (or per_eur)"}])
    for n, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
        try:
            day = dt.date.fromisoformat(row["date"])
            cur = _iso_currency(row["currency"].upper())
            rate = Decimal(row["eur_per_unit"]) if row.get("eur_per_unit") else 1 / Decimal(row["per_eur"])
            if not rate.is_finite() or rate <= 0:
                raise InvalidOperation
            rows.append((cur, day, rate))
        except (ValueError, KeyError, InvalidOperation, ZeroDivisionError):
            errors.append({"field": f"line {n}", "message": "need an ISO date, an ISO 4217 currency and a positive rate"})
        except InvalidInput as exc:
            errors.append({"field": f"line {n}", "message": exc.errors[0]["message"]})
        if len(errors) >= 100:
            break
    if errors:
        raise InvalidInput(f"{len(errors)} bad line(s); nothing was loaded", errors)
    with transaction.atomic():
        for cur, day, rate in rows:
            FxRate.objects.update_or_create(currency=cur, date=day, defaults={"eur_per_unit": rate, "source": source[:100]})
        audit.record(actor, "support.fx.load", "fx_rate", source[:100], after={"rates": len(rows)})
    return len(rows)


def fx_table() -> valuation.FxTable:
    series: dict[str, list] = {}
    for cur, day, rate in FxRate.objects.values_list("currency", "date", "eur_per_unit"):
        series.setdefault(cur, []).append((day, rate))
    return valuation.FxTable(series)


# -- pledges and entries ----------------------------------------------------------------------


def create_pledge(actor, member: CoalitionMember, category: str, title: str, kind: str, currency: str, announced: dt.date,
                  item: str = "", confidential: bool = False, external_ref: str = "", **marking) -> Pledge:  # fmt: skip
    _may_write_for(actor, member)
    errors = []
    if category not in CATEGORIES:
        errors.append({"field": "category", "message": f"one of {', '.join(CATEGORIES)}"})
    if kind not in ("financial", "in_kind"):
        errors.append({"field": "kind", "message": "financial or in_kind"})
    if not title.strip():
        errors.append({"field": "title", "message": "required"})
    if errors:
        raise InvalidInput("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors)
    _iso_currency(currency)
    with transaction.atomic():
        p = Pledge.objects.create(
            member=member, pillar=CATEGORIES[category], category=category, title=title[:300], kind=kind, item=item[:200], currency=currency,
            announced=announced, confidential=confidential, external_ref=external_ref, created_by=audit.actor_name(actor),
            originator=member.code if len(member.code) == 3 else "", **marking,
        )  # fmt: skip
        audit.record(actor, "support.pledge", "pledge", p.pk, after={"member": member.code, "category": category, "title": p.title, "confidential": confidential})
    return p


def _on_every_basis(pledge: Pledge, values: dict) -> dict:
    # Money is worth the same on every basis; only equipment in kind is valued differently.
    if pledge.kind == "financial" and set(values) == {"reported"}:
        return {b: values["reported"] for b in BASES}
    return values


def core_entry(e: LedgerEntry, pledge: Pledge | None = None) -> valuation.Entry:
    p = pledge or e.pledge
    values = _on_every_basis(p, {b: getattr(e, f"value_{b}") for b in BASES if getattr(e, f"value_{b}") is not None})
    return valuation.Entry(
        id=e.pk, pledge_id=e.pledge_id, member=p.member.code, pillar=p.pillar, category=p.category, stage=e.stage, value_date=e.value_date,
        currency=e.currency, values=values, quantity=e.quantity,
        reversal_of=e.reversal_of_id, funded_by=tuple(f.pk for f in e.funded_by.all()) or None, confidential=p.confidential,
    )  # fmt: skip


def record_entry(actor, pledge: Pledge, stage: str, value_date: dt.date, values: dict[str, Decimal], quantity: int | None = None,
                 reversal_of: LedgerEntry | None = None, funded_by: list[LedgerEntry] = (), note: str = "", source: str = "api",
                 fx: valuation.FxTable | None = None) -> LedgerEntry:  # fmt: skip
    """Append one stage entry. Refused (naming the field): another member's pledge; a stage
    before the pledge's current one; a negative amount that is not an explicit reversal; a
    currency without a rate for the value date; an unknown valuation basis."""
    _may_write_for(actor, pledge.member)
    if stage not in valuation.STAGES:
        raise InvalidInput("unknown stage", [{"field": "stage", "message": f"one of {', '.join(valuation.STAGES)}"}])
    funders = list(funded_by)
    for f in funders:
        if f.pledge_id == pledge.pk:
            raise InvalidInput("self-funding", [{"field": "funded_by", "message": "an entry cannot be financed by its own pledge"}])
    with transaction.atomic():
        pledge = Pledge.objects.select_for_update().select_related("member").get(pk=pledge.pk)
        existing = [core_entry(e, pledge) for e in pledge.entries.prefetch_related("funded_by")]
        new = valuation.Entry(
            id=0, pledge_id=pledge.pk, member=pledge.member.code, pillar=pledge.pillar, category=pledge.category, stage=stage, value_date=value_date,
            currency=pledge.currency, values=_on_every_basis(pledge, dict(values)), quantity=quantity, reversal_of=reversal_of.pk if reversal_of else None,
            funded_by=tuple(f.pk for f in funders) or None, confidential=pledge.confidential,
        )  # fmt: skip
        try:
            valuation.check_sequence(existing, new)
            for amount in values.values():
                (fx or fx_table()).to_eur(amount, pledge.currency, value_date)  # a rate must exist for the date
        except valuation.ValuationError as exc:
            raise InvalidInput(str(exc), [{"field": exc.field, "message": str(exc)}]) from None
        e = LedgerEntry(
            pledge=pledge, stage=stage, value_date=value_date, currency=pledge.currency, quantity=quantity, reversal_of=reversal_of, note=note,
            recorded_by=audit.actor_name(actor), recorded_at=timezone.now(), source=source, classification=pledge.classification, tlp=pledge.tlp,
            releasable_to=pledge.releasable_to, originator=pledge.originator, **{f"value_{b}": v for b, v in values.items()},
        )  # fmt: skip
        e.save()
        if funders:
            e.funded_by.set(funders)
        audit.record(
            actor, "support.entry", "pledge", pledge.pk,
            after={"entry": e.pk, "stage": stage, "values": {b: str(v) for b, v in values.items()}, "currency": pledge.currency, "reversal_of": e.reversal_of_id, "funded_by": [f.pk for f in funders]},
        )  # fmt: skip
    return e


# -- reading: totals, delivery ratios ---------------------------------------------------------


def may_see_values(user, member: str, confidential: bool) -> bool:
    """Who may see a member's confidential values: that member's own people and administrators;
    everyone else sees them only inside figures of at least three contributors
    (docs/markings.md)."""
    if not confidential:
        return True
    if not getattr(user, "is_authenticated", False):
        return False
    return user.role == roles.Role.ADMINISTRATOR or (user.nation != "" and user.nation == member)


def _cleared(user):
    return lambda e: may_see_values(user, e.member, e.confidential)


def visible_entries(user) -> list[valuation.Entry]:
    pledges = {p.pk: p for p in Pledge.objects.restrict(user).select_related("member")}
    rows = LedgerEntry.objects.restrict(user).filter(pledge_id__in=list(pledges)).prefetch_related("funded_by")
    return [core_entry(e, pledges[e.pledge_id]) for e in rows]


def figure_out(f: valuation.Figure) -> dict:
    return {
        "eur": None if f.eur is None else str(f.eur), "entries": f.entries, "contributors": f.contributors, "unvalued": f.unvalued,
        "excluded_double_counted": f.excluded_double_counted, "withheld": f.withheld, "confidential_included": f.confidential_included,
    }  # fmt: skip


def totals(user, by: tuple[str, ...] = ("member",), basis: str = "reported", stage: str | None = None) -> list[dict]:
    try:
        figures = valuation.totals(visible_entries(user), fx_table(), basis=basis, by=by, stage=stage, cleared=_cleared(user))
    except valuation.ValuationError as exc:
        raise InvalidInput(str(exc), [{"field": exc.field, "message": str(exc)}]) from None
    return [{**dict(zip(by, key)), **figure_out(f)} for key, f in sorted(figures.items(), key=lambda kv: tuple(str(x) for x in kv[0]))]


def delivery(user, basis: str = "reported") -> list[dict]:
    try:
        ratios = valuation.delivery_ratio(visible_entries(user), fx_table(), basis=basis, cleared=_cleared(user))
    except valuation.ValuationError as exc:
        raise InvalidInput(str(exc), [{"field": exc.field, "message": str(exc)}]) from None
    return [{"member": m, "pledged": figure_out(p), "delivered": figure_out(d), "ratio": r} for m, (p, d, r) in sorted(ratios.items())]


def get_pledge(user, pk: int) -> Pledge:
    p = Pledge.objects.restrict(user).select_related("member").filter(pk=pk).first()
    if p is None:
        raise NotFound("no such pledge, or not visible to you")
    return p


PUBLIC_MARKING = {"classification": Classification.PUBLIC, "tlp": "CLEAR", "releasable_to": "|ALL|"}


# -- the Kiel tracker import and the IATI export ----------------------------------------------


def _kiel_category(row) -> tuple[str, str]:
    """(category, kind) of a Kiel row. Military aid with items is equipment in kind; military
    money (e.g. for purchases) is arms financing; the tracker's Financial is macro-financial aid,
    kept out of element 2's pillar."""
    if row.aid_type_general == "military":
        if row.item_count is not None or row.item_type or row.item:
            return "military_equipment", "in_kind"
        return "arms_financing", "financial"
    if row.aid_type_general == "financial":
        return "financial_assistance", "financial"
    return "humanitarian", "financial" if not row.item_count else "in_kind"


def import_kiel(actor, data: bytes | str, progress=None) -> dict:
    """Import the Kiel tracker's main data (CSV): one pledge per activity/sub-activity, an entry
    at its measure's stage (commitment or allocation) and, when delivered values are given, a
    'received' entry. All or nothing: per-row errors name the line; a row whose currency has no
    rate for its date is an error too. Rows already imported (same activity/sub-activity and
    measure) are skipped, so re-importing a release adds only what is new. Kiel publishes
    government statements: the pledges are marked public."""
    from . import kiel

    try:
        rows = kiel.parse(data)
    except kiel.KielError as exc:
        errors = [{"field": f"line {e['line']}" + (f": {e['field']}" if e.get("field") else ""), "message": e["message"]} for e in exc.errors]
        raise InvalidInput(f"{len(exc.errors)} problem(s) in the file; nothing was imported", errors) from None
    members = {m.code: m for m in CoalitionMember.objects.all()}
    fx = fx_table()
    errors, plan = [], []
    for row in rows:
        member = members.get(row.member)
        if member is None:
            errors.append({"field": f"line {row.line}: donor", "message": f"{row.donor} ({row.member}) is not a coalition member"})
            continue
        currency, value = (row.currency, row.reported_value) if row.reported_value is not None else ("EUR", row.value_eur)
        try:
            fx.to_eur(value, currency, row.announced)
        except valuation.ValuationError as exc:
            errors.append({"field": f"line {row.line}: reporting_currency", "message": str(exc)})
            continue
        plan.append((row, member, currency, value))
    if errors:
        raise InvalidInput(f"{len(errors)} problem(s) in the file; nothing was imported", errors[:200])
    created = skipped = 0
    with transaction.atomic():
        for k, (row, member, currency, value) in enumerate(plan):
            ref = f"kiel:{row.activity_id}/{row.sub_activity_id}/{row.measure}"
            if Pledge.objects.filter(external_ref=ref).exists():
                skipped += 1
                continue
            category, kind = _kiel_category(row)
            p = create_pledge("system:kiel", member, category, (row.item or row.aid_type_specific or row.aid_type_general)[:300], kind, currency,
                              row.announced, item=row.item, external_ref=ref, **PUBLIC_MARKING)  # fmt: skip
            record_entry("system:kiel", p, row.measure, row.announced, {"reported": value}, row.item_count, note=row.explanation[:1000], source="kiel", fx=fx)
            if row.delivered_value_eur is not None and row.delivered_value_eur > 0:
                if currency == "EUR":
                    delivered = row.delivered_value_eur
                else:  # back to the pledge's currency at the announcement's rate
                    delivered = (row.delivered_value_eur / fx.eur_per_unit(currency, row.announced)).quantize(Decimal("0.01"))
                record_entry("system:kiel", p, "received", row.announced, {"reported": delivered}, row.delivered_count, source="kiel", fx=fx)
            created += 1
            if progress:
                progress(k + 1)
        audit.record(actor, "support.kiel.import", "pledge", "batch", after={"rows": len(rows), "created": created, "skipped": skipped})
    return {"rows": len(rows), "pledges created": created, "already imported": skipped}


def export_iati(user) -> bytes:
    """Every pledge the reader may see as an IATI activity, its entries as transactions. A
    confidential pledge the reader is not cleared for is left out (its values would show)."""
    from . import iati

    pledges = {p.pk: p for p in Pledge.objects.restrict(user).select_related("member")}
    by_pledge: dict[int, list] = {}
    for e in LedgerEntry.objects.restrict(user).filter(pledge_id__in=list(pledges)).order_by("pk"):
        by_pledge.setdefault(e.pledge_id, []).append(e)
    activities = []
    for pk, p in sorted(pledges.items()):
        if not by_pledge.get(pk) or not may_see_values(user, p.member.code, p.confidential):
            continue
        transactions = tuple(
            iati.Transaction(
                ref=f"E{e.pk}", type_code=valuation.IATI_TRANSACTION_TYPE[e.stage], stage=e.stage, date=e.value_date, currency=e.currency,
                value=e.value_reported if e.value_reported is not None else next(v for v in (e.value_price_list, e.value_replacement, e.value_net_book_value) if v is not None),
                value_date=e.value_date, description=e.note or p.title, category=p.category, quantity=e.quantity, item=p.item,
            )  # fmt: skip
            for e in by_pledge[pk]
        )
        activities.append(
            iati.Activity(
                iati_identifier=f"XM-RESOLUTE-{p.member.code}-{p.pk}", reporting_org_ref=f"XM-RESOLUTE-{p.member.code}", reporting_org_name=p.member.name,
                title=p.title, description=f"{p.category.replace('_', ' ')} pledged by {p.member.name}", pillar=p.pillar, category=p.category,
                transactions=transactions, reporting_org_type="40" if p.member.kind == "institution" else "10",
            )  # fmt: skip
        )
    return iati.write(activities, timezone.now())

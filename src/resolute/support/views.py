"""Pages of the support ledger (elements 2 and 5): pledged against delivered on a chosen valuation
basis, the stage pipeline, a pledge with its append-only entries, and the form that appends one.

Every figure comes from the services behind /api/v1/support/* (totals, delivery), computed for
the reader, so a page withholds exactly what the API withholds; entries are read through
restrict() and their values shown only where services.may_see_values allows, as api.entry_out
does. The form writes through services.record_entry, which decides who may write and what."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Max
from django.http import HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from resolute.accounts import roles
from resolute.commission.serializers import marking
from resolute.core import valuation
from resolute.errors import Forbidden, ServiceError

from . import charts, services
from .models import CATEGORIES, PILLARS, FxRate, LedgerEntry, Pledge

PAGE_SIZE = 50
STAGE_LABELS = {
    "pledge": gettext_lazy("pledge"), "commitment": gettext_lazy("commitment"), "allocation": gettext_lazy("allocation"),
    "contracted": gettext_lazy("contracted"), "disbursed": gettext_lazy("disbursed"), "shipped": gettext_lazy("shipped"),
    "received": gettext_lazy("received by Ukraine"), "verified": gettext_lazy("verified"),
}  # fmt: skip
BASIS_LABELS = {
    "reported": gettext_lazy("reported"), "price_list": gettext_lazy("price list"),
    "replacement": gettext_lazy("replacement cost"), "net_book_value": gettext_lazy("net book value"),
}  # fmt: skip
# The form's value fields; the labels are the ones the people who fill it in asked for.
VALUE_FIELD_LABELS = {
    "reported": gettext_lazy("Value (reported)"), "price_list": gettext_lazy("Value (price list)"),
    "replacement": gettext_lazy("Value (replacement)"), "net_book_value": gettext_lazy("Value (net book value)"),
}  # fmt: skip
PILLAR_LABELS = {
    "support": gettext_lazy("Support to the armed forces (element 2)"), "cooperation": gettext_lazy("Defence cooperation (element 5)"),
    "financial": gettext_lazy("Financial assistance"), "humanitarian": gettext_lazy("Humanitarian"),
}  # fmt: skip
CATEGORY_LABELS = {
    "arms_financing": gettext_lazy("arms financing"), "defence_budget_support": gettext_lazy("defence budget support"),
    "rapid_reinforcement_personnel": gettext_lazy("personnel for rapid reinforcement"), "fortifications": gettext_lazy("fortifications"),
    "military_equipment": gettext_lazy("military equipment"), "training": gettext_lazy("training"), "joint_production": gettext_lazy("joint production"),
    "intelligence_cooperation": gettext_lazy("intelligence cooperation"), "financial_assistance": gettext_lazy("financial assistance"),
    "humanitarian": gettext_lazy("humanitarian"),
}  # fmt: skip
KIND_LABELS = {"financial": gettext_lazy("financial"), "in_kind": gettext_lazy("in kind")}
assert set(CATEGORY_LABELS) == set(CATEGORIES) and set(PILLAR_LABELS) == set(PILLARS)  # a new category must get a label


def money(value: Decimal) -> str:
    """An amount with two decimals, grouped the reader's way (7,113.00 in English)."""
    return formats.number_format(value, decimal_pos=2, use_l10n=True, force_grouping=True)


def _figure(f: dict | None) -> dict:
    """A service figure for the page: the amount (None when withheld) and its formatted text."""
    if f is None:
        return {"eur": Decimal("0.00"), "text": money(Decimal("0.00")), "withheld": False, "unvalued": 0, "excluded": 0, "entries": 0, "confidential": False}
    eur = charts.as_decimal(f["eur"])
    return {
        "eur": eur, "text": None if eur is None else money(eur), "withheld": f["withheld"], "unvalued": f["unvalued"],
        "excluded": f["excluded_double_counted"], "entries": f["entries"], "confidential": f["confidential_included"],
    }  # fmt: skip


def _sum(figures: list[dict]) -> dict | None:
    """The sum of service figures over disjoint groups of one grouping: withheld as soon as one
    part is (the shown parts would otherwise give the hidden one away by difference)."""
    if not figures:
        return None
    withheld = any(f["withheld"] for f in figures)
    return {
        "eur": None if withheld else str(sum((Decimal(f["eur"]) for f in figures), Decimal("0.00"))),
        "entries": sum(f["entries"] for f in figures), "unvalued": sum(f["unvalued"] for f in figures),
        "excluded_double_counted": sum(f["excluded_double_counted"] for f in figures), "withheld": withheld,
        "confidential_included": not withheld and any(f["confidential_included"] for f in figures),
    }  # fmt: skip


def _width(part: Decimal | None, whole: Decimal) -> float:
    """A CSS bar's width in per cent of the largest shown figure."""
    return 0.0 if part is None or not whole else round(float(part / whole) * 100, 1)


def _delivered(rows: list[dict], key: tuple[str, ...]) -> dict[tuple, dict]:
    """Per `key`, (value now, delivered) from totals grouped by key + stage. Each pledge counts
    once at its furthest stage (services.totals), so the delivered part is the sum of the
    received and verified cells: the delivery ratio's definition of delivered."""
    parts: dict[tuple, tuple[list, list]] = {}
    for r in rows:
        now, delivered = parts.setdefault(tuple(r[k] for k in key), ([], []))
        now.append(r)
        if r["stage"] in valuation.DELIVERED_STAGES:
            delivered.append(r)
    return {k: (_sum(now), _sum(delivered)) for k, (now, delivered) in parts.items()}


def ledger_context(user, basis: str) -> dict:
    """The ledger's figures for `user` on `basis`, all from the services the API calls."""
    delivery = services.delivery(user, basis)
    member_pillar = _delivered(services.totals(user, ("member", "pillar", "stage"), basis), ("member", "pillar"))
    pillar_delivered = _delivered(services.totals(user, ("pillar", "stage"), basis), ("pillar",))
    pillar_totals = {r["pillar"]: r for r in services.totals(user, ("pillar",), basis)}
    stages = {r["stage"]: r for r in services.totals(user, ("stage",), basis)}

    members = []
    for r in delivery:
        pledged, delivered = _figure(r["pledged"]), _figure(r["delivered"])
        ratio = None if r["ratio"] is None else formats.number_format(round(r["ratio"] * 100), decimal_pos=0, use_l10n=True) + " %"  # rounded, not cut
        members.append({"member": r["member"], "pledged": pledged, "delivered": delivered, "ratio": r["ratio"], "ratio_text": ratio})
    chart = charts.pledged_delivered_svg(
        [{"label": m["member"], "pledged": m["pledged"]["eur"], "delivered": m["delivered"]["eur"]} for m in members],
        {"title": _("Pledged and delivered by member, EUR (%(basis)s basis)") % {"basis": BASIS_LABELS[basis]}, "pledged": _("pledged (first stage)"),
         "delivered": _("delivered (received by Ukraine)"), "withheld": _("withheld"), "empty": _("No pledge you may see.")},
    )  # fmt: skip

    pillars = []
    for p in PILLARS:
        if p not in pillar_totals:
            continue
        now = _figure(pillar_totals[p])
        delivered = _figure(pillar_delivered.get((p,), (None, None))[1])
        pillars.append({"pillar": p, "label": PILLAR_LABELS[p], "now": now, "delivered": delivered})
    largest = max([x["now"]["eur"] for x in pillars if x["now"]["eur"] is not None] or [Decimal(0)])
    for x in pillars:
        x["now_width"], x["delivered_width"] = _width(x["now"]["eur"], largest), _width(x["delivered"]["eur"], largest)

    cells = []
    for (member, pillar), (now, delivered) in sorted(member_pillar.items(), key=lambda kv: (kv[0][0], PILLARS.index(kv[0][1]))):
        cells.append({"member": member, "pillar": pillar, "label": PILLAR_LABELS[pillar], "now": _figure(now), "delivered": _figure(delivered)})
    largest = max([c["now"]["eur"] for c in cells if c["now"]["eur"] is not None] or [Decimal(0)])
    for c in cells:
        c["now_width"], c["delivered_width"] = _width(c["now"]["eur"], largest), _width(c["delivered"]["eur"], largest)

    pipeline = [{"stage": s, "label": STAGE_LABELS[s], "figure": _figure(stages.get(s)), "iati": valuation.IATI_TRANSACTION_TYPE[s]} for s in valuation.STAGES]
    return {"members": members, "chart": chart, "pillars": pillars, "cells": cells, "pipeline": pipeline}


def _refused(what: str):
    return HttpResponseForbidden(what)


@login_required
@require_safe
def ledger(request):
    user = request.user
    if not roles.allows(user, roles.VIEW, "pledge"):
        return _refused(_("Your role does not read the support ledger."))
    errors, status = {}, 200
    basis = request.GET.get("basis") or "reported"
    if basis not in valuation.BASES:
        errors["basis"] = _("Choose one of the valuation bases.")
        basis, status = "reported", 400
    context = ledger_context(user, basis)

    pledges = Pledge.objects.restrict(user).select_related("member").order_by("member__code", "pk")
    member_codes = sorted(set(pledges.values_list("member__code", flat=True)))
    member = request.GET.get("member") or ""
    if member:
        if member in member_codes:
            pledges = pledges.filter(member__code=member)
        else:
            errors["member"] = _("No pledge of this member that you may see.")
            member, status = "", 400
    page = Paginator(pledges, PAGE_SIZE).get_page(request.GET.get("page"))
    # Which currencies the figures were converted from, and how recent their rates are (the
    # FX table is public reference data, like the ECB's).
    rates = FxRate.objects.values("currency").annotate(latest=Max("date")).order_by("currency")
    return render(
        request,
        "support/ledger.html",
        {
            **context,
            "basis": basis,
            "basis_label": BASIS_LABELS[basis],
            "bases": [(b, BASIS_LABELS[b]) for b in valuation.BASES],
            "rates": rates,
            "max_age_days": valuation.FxTable({}).max_age_days,
            "page": page,
            "pledge_rows": [{"p": p, "pillar": PILLAR_LABELS[p.pillar], "category": CATEGORY_LABELS[p.category], "kind": KIND_LABELS[p.kind]} for p in page],
            "member": member,
            "member_codes": member_codes,
            "errors": errors,
        },
        status=status,
    )


# -- one pledge and its entries ---------------------------------------------------------------


def _entry_rows(user, p: Pledge) -> list[dict]:
    cleared = services.may_see_values(user, p.member.code, p.confidential)
    rows = []
    for e in LedgerEntry.objects.restrict(user).filter(pledge=p).prefetch_related("funded_by").select_related("reversed_by"):
        values = [(BASIS_LABELS[b], money(getattr(e, f"value_{b}"))) for b in valuation.BASES if getattr(e, f"value_{b}") is not None]
        reversed_by = getattr(e, "reversed_by", None)
        rows.append({
            "e": e, "stage_label": STAGE_LABELS[e.stage], "iati": valuation.IATI_TRANSACTION_TYPE[e.stage], "values": values if cleared else None,
            "funded_by": [f.pk for f in e.funded_by.all()], "reversed_by": reversed_by.pk if reversed_by else None,
        })  # fmt: skip
    return rows


def _current_stage(rows: list[dict]) -> str | None:
    """The furthest stage of the entries still standing (a reversal and its target cancel)."""
    reversed_ids = {r["e"].reversal_of_id for r in rows if r["e"].reversal_of_id}
    live = [r["e"].stage for r in rows if r["e"].reversal_of_id is None and r["e"].pk not in reversed_ids]
    return max(live, key=valuation.STAGES.index) if live else None


def _amount(raw: str, field: str, errors: dict) -> Decimal | None:
    text = (raw or "").strip().replace(" ", "").replace("\u202f", "").replace("_", "")
    if not text:
        return None
    if "," in text and "." not in text:
        text = text.replace(",", ".")  # a decimal comma, as most members write it
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors[field] = _("Enter an amount, e.g. 1250000.00.")
        return None
    if not value.is_finite() or value.as_tuple().exponent < -2 or abs(value) >= Decimal("1e18"):
        errors[field] = _("Enter an amount with at most two decimals, below 10^18.")
        return None
    return value


def _parse_entry(data, p: Pledge, errors: dict) -> dict:
    """The form's fields as record_entry's arguments; syntax only: what is allowed is the service's call."""
    stage = data.get("stage") or ""
    if not stage:
        errors["stage"] = _("This field is required.")
    elif stage not in valuation.STAGES:
        errors["stage"] = _("Choose one of the stages.")
    value_date = None
    raw_date = (data.get("value_date") or "").strip()
    if not raw_date:
        errors["value_date"] = _("This field is required.")
    else:
        try:
            value_date = dt.date.fromisoformat(raw_date)
        except ValueError:
            errors["value_date"] = _("Enter a date (YYYY-MM-DD).")
    currency = (data.get("currency") or "").strip().upper()
    if not currency:
        errors["currency"] = _("This field is required.")
    elif currency != p.currency:
        # Entries keep the pledge's currency: a figure typed in another one would be misread.
        errors["currency"] = _("Entries of this pledge are in %(currency)s.") % {"currency": p.currency}
    values = {}
    for b in _bases_of(p):
        v = _amount(data.get(f"value_{b}"), f"value_{b}", errors)
        if v is not None:
            values[b] = v
    if not values and "value_reported" not in errors:
        errors["value_reported"] = _("This field is required.")
    quantity = None
    raw_q = (data.get("quantity") or "").strip()
    if raw_q:
        try:
            quantity = int(raw_q)
        except ValueError:
            errors["quantity"] = _("Enter a whole number.")
        else:
            if abs(quantity) > 10_000_000:
                errors["quantity"] = _("Enter a whole number up to 10,000,000.")
    note = (data.get("note") or "").strip()
    if len(note) > 10_000:
        errors["note"] = _("At most 10,000 characters.")
    return {"stage": stage, "value_date": value_date, "values": values, "quantity": quantity, "note": note}


def _bases_of(p: Pledge) -> tuple[str, ...]:
    # Money is worth the same on every basis; only equipment in kind has several values.
    return valuation.BASES if p.kind == "in_kind" else ("reported",)


def _service_errors(exc: ServiceError, values: dict) -> dict:
    """A service's refusal as errors on the form's fields."""
    out = {}
    for e in exc.errors or [{"field": "form", "message": exc.detail}]:
        field = e.get("field", "form")
        if field == "values":
            negative = [b for b, v in values.items() if v < 0]
            field = f"value_{negative[0]}" if negative else f"value_{next(iter(values), 'reported')}"
        elif field not in ("stage", "value_date", "currency", "quantity", "note"):
            field = "form"
        out.setdefault(field, exc.detail if field == "form" else e["message"])
    out.setdefault("form", exc.detail)
    return out


@login_required
@require_http_methods(["GET", "POST"])
def pledge_page(request, pk: int):
    user = request.user
    if not roles.allows(user, roles.VIEW, "pledge"):
        return _refused(_("Your role does not read the support ledger."))
    p = get_object_or_404(Pledge.objects.restrict(user).select_related("member"), pk=pk)
    errors: dict = {}
    values = request.POST if request.method == "POST" else {}
    status = 200
    if request.method == "POST":
        if not roles.allows(user, roles.ADD, "pledge"):
            messages.error(request, _("Your role does not write ledger entries."))
            status = 403
        else:
            fields = _parse_entry(request.POST, p, errors)
            if errors:
                status = 422
            else:
                try:
                    e = services.record_entry(user, p, fields["stage"], fields["value_date"], fields["values"], fields["quantity"], note=fields["note"], source="web")
                except Forbidden as exc:
                    messages.error(request, _("The entry was not recorded: %(reason)s") % {"reason": exc.detail})
                    status = 403
                except ServiceError as exc:
                    errors = _service_errors(exc, fields["values"])
                    status = exc.status
                else:
                    messages.success(request, _("Entry %(id)s recorded: %(stage)s on %(date)s.") % {"id": e.pk, "stage": STAGE_LABELS[e.stage], "date": e.value_date.isoformat()})
                    return redirect("pledge", pk=p.pk)
    rows = _entry_rows(user, p)
    current = _current_stage(rows)
    reached = {r["e"].stage for r in rows}
    return render(
        request,
        "support/pledge.html",
        {
            "p": p,
            "marking": marking(p),
            "rows": rows,
            "cleared": services.may_see_values(user, p.member.code, p.confidential),
            "current": current,
            "pipeline": [{"stage": s, "label": STAGE_LABELS[s], "reached": s in reached, "current": s == current} for s in valuation.STAGES],
            "category_label": CATEGORY_LABELS[p.category],
            "pillar_label": PILLAR_LABELS[p.pillar],
            "kind_label": KIND_LABELS[p.kind],
            # Shown to those the service would let write for this member; it still decides.
            "can_record": roles.allows(user, roles.ADD, "pledge") and (user.role == roles.Role.ADMINISTRATOR or user.nation == p.member.code),
            "stages": [(s, STAGE_LABELS[s]) for s in valuation.STAGES],
            "value_fields": [
                {"name": f"value_{b}", "label": VALUE_FIELD_LABELS[b], "value": values.get(f"value_{b}", ""), "error": errors.get(f"value_{b}")} for b in _bases_of(p)
            ],
            "default_stage": current or "pledge",
            "today": dt.date.today().isoformat(),
            "values": values,
            "errors": errors,
        },
        status=status,
    )

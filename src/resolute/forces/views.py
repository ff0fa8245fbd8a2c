"""The force board (element 3): requirements with their fill rates, the national offers against
each, readiness alerts, and the deployment gate with its conditions; delegations make and
withdraw their nation's offers here, force-generation staff move them on.

It shows what GET /api/v1/force/board shows the reader (requirements and offers through
restrict(), the same core arithmetic) and writes only through forces.services, which decides
who may do what; a refusal comes back as a message naming the reason."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from resolute.accounts import roles
from resolute.commission.services import reliability_condition
from resolute.core import forcegen
from resolute.errors import ServiceError
from resolute.monitoring.models import CoalitionMember

from . import services
from .models import Offer, Requirement, UkraineRequest

TIER_LABELS = {"t10": gettext_lazy("ready within 10 days"), "t30": gettext_lazy("ready within 10–30 days"), "t180": gettext_lazy("ready within 30–180 days")}
STATUS_LABELS = {
    "offered": gettext_lazy("offered"), "accepted": gettext_lazy("accepted"), "certified": gettext_lazy("certified"), "deployed": gettext_lazy("deployed"),
    "transfer_of_authority": gettext_lazy("transfer of authority"), "declined": gettext_lazy("declined"), "withdrawn": gettext_lazy("withdrawn"),
}  # fmt: skip
ACTION_LABELS = {
    "accept": gettext_lazy("Accept"), "decline": gettext_lazy("Decline"), "certify": gettext_lazy("Certify"), "deploy": gettext_lazy("Deploy"),
    "transfer_authority": gettext_lazy("Transfer authority"), "withdraw": gettext_lazy("Withdraw"),
}  # fmt: skip
ALERT_LABELS = {"out_of_tier": gettext_lazy("readiness out of tier"), "caveat": gettext_lazy("caveat")}
GOOD_STATUSES = ("accepted", "certified", "deployed", "transfer_of_authority")
GONE_STATUSES = ("declined", "withdrawn")


def _percent(rate: float | None) -> str:
    # number_format cuts decimals off; rounding first makes 2/3 read 67 %, not 66 %.
    return "–" if rate is None else formats.number_format(round(rate * 100), decimal_pos=0, use_l10n=True) + " %"


def _acts_for_any(user) -> bool:
    # Force-generation staff (CHANGE force) act for every nation; services.py says the same.
    return roles.allows(user, roles.CHANGE, "force")


def _actions(user, o: Offer) -> list[tuple[str, str]]:
    """The moves the API would let this reader make on this offer (the service decides again)."""
    allowed = forcegen.OFFER.allowed(o.status)
    if _acts_for_any(user):
        names = allowed
    elif roles.allows(user, roles.OFFER, "force") and user.nation == o.member.code:
        names = tuple(a for a in allowed if a == "withdraw")
    else:
        names = ()
    return [(a, ACTION_LABELS[a]) for a in names]


def _may_report_readiness(user, o: Offer) -> bool:
    if o.status in forcegen.OFFER.final:
        return False
    return _acts_for_any(user) or (roles.allows(user, roles.OFFER, "force") and user.nation == o.member.code)


def board_context(user) -> dict:
    """The board as the API builds it for `user`, with what each row lets the reader do."""
    requirements = list(Requirement.objects.restrict(user))
    offers = list(Offer.objects.restrict(user).select_related("member").filter(requirement__in=requirements).order_by("pk"))
    reqs, offs = services.core_view(requirements, offers)
    fills = forcegen.fill_rates(reqs, offs)
    alerts = forcegen.alerts(reqs, offs)
    alerted = {a.offer_id for a in alerts if a.kind == "out_of_tier"}
    by_req: dict[int, list] = {}
    for o in offers:
        by_req.setdefault(o.requirement_id, []).append({
            "o": o, "status_label": STATUS_LABELS[o.status], "tier": forcegen.tier_of(o.readiness_days), "out_of_tier": o.pk in alerted,
            "good": o.status in GOOD_STATUSES, "gone": o.status in GONE_STATUSES, "actions": _actions(user, o),
            "may_report_readiness": _may_report_readiness(user, o),
        })  # fmt: skip
    rows = []
    for r in requirements:
        f = fills[r.pk]
        rows.append({
            "r": r, "tier_label": TIER_LABELS.get(r.tier, r.tier), "fill": f, "rate_text": _percent(f.rate),
            "fill_width": round(f.rate * 100, 1), "offered_width": round(min(f.offered, r.quantity) / r.quantity * 100, 1),
            "offers": by_req.get(r.pk, []),
        })  # fmt: skip
    overall = forcegen.overall_fill(list(fills.values())) if fills else None
    return {
        "requirements": rows,
        "overall": overall,
        "overall_text": _percent(overall),
        "overall_width": round((overall or 0) * 100, 1),
        "filled_count": sum(1 for f in fills.values() if f.rate >= 1),
        "alerts": [{"a": a, "label": ALERT_LABELS.get(a.kind, a.kind), "code": next((r.code for r in requirements if r.pk == a.requirement_id), "")} for a in alerts],
        "gate": _gate(),
    }


def _gate() -> dict:
    """The gate as the API states it (open, and every reason), with its two conditions shown
    one by one: the yes/no of each is already in the reasons; the reasons stay the authority."""
    g = services.gate()
    condition = reliability_condition()
    requested = UkraineRequest.objects.filter(withdrawn_at__isnull=True).exists()
    return {"open": g.open, "reasons": list(g.reasons), "requested": requested, "reliable": condition.met, "reliability_reason": condition.reason}


def _refused():
    return HttpResponseForbidden(_("Your role does not see the Multinational Force."))


def _parse_offer(user, data, errors: dict) -> dict:
    """The offer form's fields, checked for form (the service checks who may offer for whom)."""
    out = {}
    code = (data.get("requirement") or "").strip()
    if not code:
        errors["requirement"] = _("This field is required.")
    else:
        out["requirement"] = Requirement.objects.restrict(user).filter(code=code).first()
        if out["requirement"] is None:
            errors["requirement"] = _("No such requirement that you may see.")
    member_code = (data.get("member") or "").strip().upper() if _acts_for_any(user) else (user.nation or "")
    out["member"] = CoalitionMember.objects.filter(code=member_code).first() if member_code else None
    if out["member"] is None:
        errors["member"] = _("Not a coalition member.") if member_code else _("Your account has no nation to offer for.")
    unit = (data.get("unit") or "").strip()
    if not unit:
        errors["unit"] = _("This field is required.")
    elif len(unit) > 200:
        errors["unit"] = _("At most 200 characters.")
    out["unit"] = unit
    for name, low, high in (("size", 1, 100_000), ("readiness_days", 0, 3650)):
        raw = (data.get(name) or "").strip()
        if not raw:
            errors[name] = _("This field is required.")
            continue
        try:
            value = int(raw)
        except ValueError:
            errors[name] = _("Enter a whole number.")
            continue
        if not low <= value <= high:
            errors[name] = _("Enter a whole number from %(low)s to %(high)s.") % {"low": low, "high": high}
            continue
        out[name] = value
    caveats = (data.get("caveats") or "").strip()
    if len(caveats) > 10_000:
        errors["caveats"] = _("At most 10,000 characters.")
    out["caveats"] = caveats
    return out


def _errors_of(exc: ServiceError) -> dict:
    fields = ("requirement", "member", "unit", "size", "readiness_days", "caveats")
    out = {e["field"]: e["message"] for e in exc.errors if e.get("field") in fields}
    out["form"] = exc.detail
    return out


@login_required
@require_http_methods(["GET", "POST"])
def force_board(request):
    user = request.user
    if not roles.allows(user, roles.VIEW, "force"):
        return _refused()
    may_offer = roles.allows(user, roles.OFFER, "force") or _acts_for_any(user)
    errors: dict = {}
    values = request.POST if request.method == "POST" else {}
    status = 200
    if request.method == "POST":
        if not may_offer:
            messages.error(request, _("Your role may not offer contributions."))
            status = 403
        else:
            fields = _parse_offer(user, request.POST, errors)
            if errors:
                status = 422
            else:
                try:
                    o = services.make_offer(user, fields["requirement"], fields["member"], fields["unit"], fields["size"], fields["readiness_days"], fields["caveats"])
                except ServiceError as exc:
                    errors, status = _errors_of(exc), exc.status
                else:
                    messages.success(request, _("Offer %(id)s made: %(unit)s for %(code)s.") % {"id": o.pk, "unit": o.unit, "code": o.requirement.code})
                    return redirect(f"{reverse('force-board')}#offer-{o.pk}")
    context = board_context(user)
    return render(
        request,
        "forces/board.html",
        {
            **context,
            "may_offer": may_offer,
            "acts_for_any": _acts_for_any(user),
            "members": CoalitionMember.objects.restrict(user).order_by("code") if _acts_for_any(user) else (),
            "values": values,
            "errors": errors,
        },
        status=status,
    )


def _offer_or_404(user, pk: int) -> Offer:
    # An offer the reader may not see does not exist for them (404, like the API).
    return get_object_or_404(Offer.objects.restrict(user).select_related("member", "requirement"), pk=pk)


@login_required
@require_POST
def offer_move(request, pk: int):
    user = request.user
    if not roles.allows(user, roles.VIEW, "force"):
        return _refused()
    o = _offer_or_404(user, pk)
    action = request.POST.get("action") or ""
    if action not in ACTION_LABELS:
        messages.error(request, _("Choose an action for offer %(id)s.") % {"id": o.pk})
    else:
        try:
            o = services.move_offer(user, o, action)
        except ServiceError as exc:
            messages.error(request, _("Offer %(id)s was not changed: %(reason)s") % {"id": o.pk, "reason": exc.detail})
        else:
            messages.success(request, _("Offer %(id)s is now %(status)s.") % {"id": o.pk, "status": STATUS_LABELS[o.status]})
    return redirect(f"{reverse('force-board')}#offer-{o.pk}")


@login_required
@require_POST
def offer_readiness(request, pk: int):
    user = request.user
    if not roles.allows(user, roles.VIEW, "force"):
        return _refused()
    o = _offer_or_404(user, pk)
    raw = (request.POST.get("readiness_days") or "").strip()
    try:
        days = int(raw)
        if not 0 <= days <= 3650:
            raise ValueError
    except ValueError:
        messages.error(request, _("Readiness (days) of offer %(id)s: enter a whole number from 0 to 3650.") % {"id": o.pk})
    else:
        try:
            services.update_readiness(user, o, days)
        except ServiceError as exc:
            messages.error(request, _("Offer %(id)s was not changed: %(reason)s") % {"id": o.pk, "reason": exc.detail})
        else:
            messages.success(request, _("Offer %(id)s: ready in %(days)s days.") % {"id": o.pk, "days": days})
    return redirect(f"{reverse('force-board')}#offer-{o.pk}")

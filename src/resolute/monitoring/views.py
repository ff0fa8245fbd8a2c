"""Pages of element 1's monitoring side: the situation map, an incident, and the observation
form. Every read goes through `restrict()`; the form writes through the intake service, exactly
like the API."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe
from pydantic import ValidationError

from resolute.accounts import roles
from resolute.agreement.models import Finding
from resolute.core import vocabulary as v
from resolute.core.geo import COMPASS_16

from resolute.errors import ServiceError
from resolute.words import label

from . import fusion, services
from .api import LIVE
from .fusion import current_line
from .map_api import time_range
from .models import Incident, Observation, Source
from .schemas import ObservationIn
from .serializers import incident_detail, observation_feature

#: Grade of a mission monitor's own report entered in the web form: a usually reliable source,
#: probably true (the mission's default for its own staff; analysts may regrade the source).
WEB_FORM_GRADE = "B2"
RANGE_BANDS = ((0, 500), (500, 1000), (1000, 2000), (2000, 5000), (5000, 10000), (10000, 20000))




def map_labels(side_a: str | None, side_b: str | None) -> dict:
    """The words map.js shows, in the reader's language."""
    return {
        "types": {t: label(t) for t in v.EVENT_TYPES},
        "confidence": _("Confidence"), "origin": _("Origin of fire"), "severity": _("Severity"), "open": _("Open incident"),
        "undetermined": _("undetermined"), "incidents": _("incidents"), "error": _("The map data could not be loaded."),
        "side_a": _("side %(code)s") % {"code": side_a or "A"}, "side_b": _("side %(code)s") % {"code": side_b or "B"},
        "size_severity": _("Size: severity of the finding"), "contact_line": _("Contact line"), "zones": _("Agreement zones"),
        "observation_post": _("Observation post"), "observation_posts": _("Observation posts"), "reports": _("reports"),
        "status_incidents": _("%(n)s incidents in view."),
        "status_grid": _("%(n)s incidents in view, shown as %(cells)s grid cells: zoom in for single incidents."),
    }  # fmt: skip


@require_safe
def situation_map(request):
    span = time_range(request.user)
    line = current_line()
    config = {
        "dataUrl": reverse("api-v1:map_incidents"),
        "layersUrl": reverse("api-v1:map_layers"),
        "incidentUrl": reverse("incident", args=[0]),
        "basemapUrl": static("resolute/basemap/countries.geojson"),
        "oblastsUrl": static("resolute/basemap/oblasts.geojson") if _shipped("oblasts.geojson") else None,
        "tileUrl": settings.MAP_TILE_URL or None,
        "tileAttribution": settings.MAP_TILE_ATTRIBUTION,
        "span": {"first": span[0].isoformat(), "last": span[1].isoformat()} if span else None,
        "labels": map_labels(line.side_a if line else None, line.side_b if line else None),
    }
    return render(
        request,
        "monitoring/situation_map.html",
        {
            "event_types": [(t, label(t)) for t in v.EVENT_TYPES],
            "statuses": [(s, label(s)) for s in LIVE],
            "span": config["span"],
            "span_days": (span[1] - span[0]).days if span else 0,
            "map_config": config,
        },
    )


def _shipped(name: str) -> bool:
    return (Path(__file__).resolve().parent.parent / "web" / "static" / "resolute" / "basemap" / name).exists()


@require_safe
def incident_page(request, pk: int):
    user = request.user
    inc = get_object_or_404(Incident.objects.restrict(user).filter(lat__isnull=False), pk=pk)
    members = Observation.objects.restrict(user).filter(incident=inc).select_related("source").order_by("observed_from", "pk")
    detail = incident_detail(inc, [observation_feature(o) for o in members], current_line(inc.first_seen))
    findings = Finding.objects.restrict(user).filter(incident=inc).select_related("provision").order_by("-current", "-severity", "pk")
    verifications = []
    if roles.allows(user, roles.VIEW, "verification"):
        from resolute.commission.models import Verification

        verifications = list(Verification.objects.restrict(user).filter(incident=inc).order_by("-received_at"))
    props = detail["properties"]
    return render(
        request,
        "monitoring/incident.html",
        {
            "incident": inc,
            "p": props,
            "terms": props["confidence_breakdown"],
            "observations": props["observations"],
            "findings": findings,
            "verifications": verifications,
            "can_open_verification": roles.allows(user, roles.ADD, "verification"),
            "detail": detail,
        },
    )


def _form_source(user, channel: str) -> str:
    """One source per person and channel for what they enter by hand, registered on first use."""
    code = f"WEB-{user.username}-{channel}"[:64]
    if not Source.objects.filter(code=code).exists():
        # Registered by the form on the person's behalf (monitors do not manage sources), as the
        # OpenRosa server does for a device.
        services.register_source(
            "web-form", code, f"{user.username} ({channel.replace('_', ' ')}, web form)", channel, WEB_FORM_GRADE[0], int(WEB_FORM_GRADE[1]), user.nation or ""
        )
    return code


def _store_attachment(f) -> str:
    """Keep an attached file under its SHA-256 (content-addressed: the same photo twice is one
    file) and return the digest the observation records."""
    digest = hashlib.sha256()
    for chunk in f.chunks():
        digest.update(chunk)
    name = digest.hexdigest()
    folder = settings.DATA_DIR / "attachments" / name[:2]
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    if not target.exists():
        tmp = folder / f".{name}.{uuid.uuid4().hex}"
        with open(tmp, "wb") as out:
            for chunk in f.chunks():
                out.write(chunk)
        tmp.replace(target)
    return name


def _number(data, name: str, errors: dict, required: bool = True) -> float | None:
    raw = (data.get(name) or "").strip().replace(",", ".")
    if not raw:
        if required:
            errors[name] = _("This field is required.")
        return None
    try:
        x = float(raw)
    except ValueError:
        errors[name] = _("Enter a number.")
        return None
    if x != x or x in (float("inf"), float("-inf")):
        errors[name] = _("Enter a number.")
        return None
    return x


def _time(data, name: str, errors: dict) -> str | None:
    raw = (data.get(name) or "").strip()
    if not raw:
        errors[name] = _("This field is required.")
        return None
    try:
        t = dt.datetime.fromisoformat(raw)
    except ValueError:
        errors[name] = _("Enter a date and time (UTC).")
        return None
    # The form's clock is UTC (labelled so): a time without an offset is UTC.
    return (t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)).isoformat()


def _observation_body(request, errors: dict) -> dict:
    d = request.POST
    channel = d.get("channel") or "patrol"
    body = {
        "client_id": d.get("client_id") or str(uuid.uuid4()),
        "channel": channel,
        "observer": {"lat": _number(d, "observer_lat", errors), "lon": _number(d, "observer_lon", errors), "accuracy_m": _number(d, "observer_accuracy_m", errors, False) or 10.0},
        "observed_from": _time(d, "observed_from", errors),
        "observed_to": _time(d, "observed_to", errors),
        "event_type": d.get("event_type"),
        "perception": d.get("perception"),
        # Digits become a number; anything else goes to validation as typed, to be named there.
        "count": int(count) if (count := d.get("count") or "1").isdigit() else count,
        "weapon_class": d.get("weapon_class") or "unknown",
        "narrative": d.get("narrative", ""),
        "grade": WEB_FORM_GRADE,
        "marking": {
            "classification": d.get("classification") or "RESTRICTED",
            "tlp": d.get("tlp") or "AMBER",
            "releasable_to": [x.strip().upper() for x in (d.get("releasable_to") or "ALL").split(",") if x.strip()],
            "originator": request.user.nation or "",
        },
    }
    if d.get("where") == "point":
        body["location"] = {"lat": _number(d, "event_lat", errors), "lon": _number(d, "event_lon", errors), "error_m": _number(d, "event_error_m", errors, False) or 500.0}
    else:
        direction = {}
        if d.get("bearing_deg"):
            direction["bearing_deg"] = _number(d, "bearing_deg", errors)
            direction["bearing_sigma_deg"] = _number(d, "bearing_sigma_deg", errors, False) or 10.0
        else:
            direction["compass_sector"] = d.get("compass_sector") or None
        band = d.get("range_band") or ""
        if band:
            lo, _sep, hi = band.partition("-")
            direction["range_min_m"], direction["range_max_m"] = float(lo), float(hi)
        body["direction"] = direction
    return body


def _form_field(loc: tuple) -> str:
    """The form field a validation error's location in ObservationIn points at."""
    parts = [str(x) for x in loc]
    head, rest = (parts[0], parts[1:]) if parts else ("form", [])
    if head == "observer":
        return "observer_" + (rest[0] if rest else "lat")
    if head == "location":
        return "event_" + (rest[0] if rest else "lat")
    if head == "direction":
        return rest[0] if rest and rest[0] in ("bearing_deg", "compass_sector", "range_min_m", "range_max_m") else "compass_sector"
    if head == "marking":
        return rest[0] if rest else "classification"
    return head


def _pydantic_errors(e: ValidationError) -> dict:
    out: dict = {}
    for err in e.errors():
        out.setdefault(_form_field(err["loc"]), err["msg"].removeprefix("Value error, "))
    return out


@login_required
@require_http_methods(["GET", "POST"])
def observation_new(request):
    if not roles.allows(request.user, roles.ADD, "observation"):
        return HttpResponseForbidden(_("Your role does not file observations."))
    errors: dict = {}
    values = request.POST if request.method == "POST" else {}
    if request.method == "POST":
        body = _observation_body(request, errors)
        if not errors:
            try:
                body["source"] = _form_source(request.user, body["channel"] if body["channel"] in v.CHANNELS else "patrol")
                body["chain"] = [body["source"]]
                body["attachments"] = [_store_attachment(f) for f in request.FILES.getlist("attachments")[:50]]
                item = ObservationIn.model_validate(body)
            except ValidationError as e:
                errors = _pydantic_errors(e)
            else:
                try:
                    result = services.submit_observations([item], request.user, intake="web")
                except ServiceError as e:
                    errors["form"] = str(e)
                else:
                    fusion.after_intake(result.created)
                    messages.success(request, _("Observation recorded (reference %(ref)s).") % {"ref": str(item.client_id)[:8]})
                    return redirect(f"{request.path}?filed={result.ids[0]}")
    return render(
        request,
        "monitoring/observation_form.html",
        {
            "errors": errors,
            "values": values,
            "client_id": values.get("client_id") or uuid.uuid4(),
            "event_types": [(t, label(t)) for t in v.EVENT_TYPES],
            "perceptions": [(t, label(t)) for t in v.PERCEPTIONS],
            "weapon_classes": [(t, label(t)) for t in v.WEAPON_CLASSES],
            "channels": ("patrol", "observation_post"),
            "sectors": COMPASS_16,
            "range_bands": RANGE_BANDS,
            "filed": request.GET.get("filed"),
            "now": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M"),
        },
    )


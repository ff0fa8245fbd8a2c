"""/api/v1 routes of the agreement: versions with their provisions and zones, and findings."""

from __future__ import annotations

import datetime as dt

from django.shortcuts import get_object_or_404
from ninja import Query, Router, Schema
from pydantic import Field

from resolute.accounts import roles
from resolute.monitoring.schemas import UtcTime
from resolute.monitoring.schemas import Text as Storable
from resolute.errors import Forbidden, NotFound
from resolute.monitoring.api import Problem, _parse_cursor
from resolute.monitoring.models import Incident

from . import services
from .models import AgreementVersion, Finding

router = Router(tags=["agreement"])
ERRORS = {400: Problem, 401: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem}


def version_summary(v: AgreementVersion) -> dict:
    return {
        "number": v.number, "agreement": v.agreement, "label": v.label, "status": v.status,
        "in_force_from": v.in_force_from.isoformat() if v.in_force_from else None, "sides": {"a": v.side_a, "b": v.side_b},
        "content_hash": v.content_hash, "origin": v.origin,
    }  # fmt: skip


def _versions(request):
    qs = AgreementVersion.objects.restrict(request.auth)
    # Drafts are work in progress: only those who edit the agreement see them.
    if not roles.allows(request.auth, roles.CHANGE, "agreement"):
        qs = qs.filter(status=AgreementVersion.IN_FORCE)
    return qs


@router.get("/agreement/versions", response={200: list[dict], **ERRORS}, summary="Versions of the agreement")
def list_versions(request):
    return [version_summary(v) for v in _versions(request).order_by("-number")]


@router.get("/agreement/in-force", response={200: dict, **ERRORS}, summary="The version in force at a time (default now)")
def in_force(request, at: UtcTime | None = Query(None, description="UTC time")):
    at = (at or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    v = services.version_in_force(at)
    if v is None or not _versions(request).filter(pk=v.pk).exists():
        raise NotFound("no version of the agreement was in force then")
    return version_summary(v)


@router.get("/agreement/versions/{number}", response={200: dict, **ERRORS}, summary="One version: provisions and zones (GeoJSON)")
def get_version(request, number: int):
    v = get_object_or_404(_versions(request), number=number)
    return {
        **version_summary(v),
        "contact_line_sigma_m": v.contact_line_sigma_m, "attribution_threshold": v.attribution_threshold,
        "withdrawal_bands_km": v.withdrawal_bands_km,
        "provisions": [
            {"id": p.ident, "rule_type": p.rule_type, "severity": p.severity, "title": p.title, "text": p.text, "params": p.params}
            for p in v.provisions.all()
        ],
        "zones": {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature", "id": z.pk, "geometry": z.geometry,
                    "properties": {
                        "kind": z.kind, "name": z.name, "party": z.party, "weapon_classes": z.weapon_classes, "derived": z.derived,
                        "valid_from": z.valid_from.isoformat() if z.valid_from else None, "valid_to": z.valid_to.isoformat() if z.valid_to else None,
                        "inventory": z.inventory, "radius_m": z.radius_m,
                    },
                }
                for z in v.zones.all()
            ],
        },
    }  # fmt: skip


def finding_out(f: Finding) -> dict:
    return {
        "id": f.pk, "incident": f.incident_id, "agreement_version": f.version.number, "provision": f.provision.ident,
        "provision_title": f.provision.title, "rule_type": f.rule_type, "severity": f.severity,
        "party": f.party or None, "attribution": f.party or "unattributable", "p_party": f.p_party, "p_side_a": f.p_side_a,
        "p_violation": f.p_violation, "zone": f.zone, "exempt": f.exempt, "explanation": f.explanation, "current": f.current,
        "judged_at": f.judged_at.isoformat(), "superseded_at": f.superseded_at.isoformat() if f.superseded_at else None,
    }  # fmt: skip


class FindingFilters(Schema):
    incident: int | None = Field(None, ge=1, le=2**62)
    provision: Storable | None = Field(None, max_length=20)
    party: str | None = Field(None, pattern=r"^([A-Z]{3}|unattributable)$")
    min_severity: int | None = Field(None, ge=1, le=5)
    include_superseded: bool = False
    include_exempt: bool = True
    cursor: Storable | None = Field(None, max_length=40)
    limit: int = Field(100, ge=1, le=1000)


@router.get("/findings", response={200: dict, **ERRORS}, summary="Findings of the rules engine (newest first pages by id)")
def list_findings(request, f: Query[FindingFilters]):
    qs = Finding.objects.restrict(request.auth).select_related("version", "provision")
    if f.incident is not None:
        qs = qs.filter(incident_id=f.incident)
    if f.provision is not None:
        qs = qs.filter(provision__ident=f.provision)
    if f.party is not None:
        qs = qs.filter(party="" if f.party == "unattributable" else f.party)
    if f.min_severity is not None:
        qs = qs.filter(severity__gte=f.min_severity)
    if not f.include_superseded:
        qs = qs.filter(current=True)
    if not f.include_exempt:
        qs = qs.filter(exempt=False)
    return page(request, qs, f.cursor, f.limit, finding_out)


def page(request, qs, cursor: str | None, limit: int, out) -> dict:
    """Cursor pages by id: stable under concurrent inserts (unlike offsets)."""
    rows = list(qs.filter(pk__gt=_parse_cursor(cursor)).order_by("pk")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = None
    if more:
        q = request.GET.copy()
        q["cursor"] = str(rows[-1].pk)
        nxt = request.build_absolute_uri(request.path + "?" + q.urlencode())
    return {"items": [out(r) for r in rows], "next": nxt}


class JudgeIn(Schema):
    incident_ids: list[int] | None = Field(None, max_length=10_000, description="omit to judge every live incident")


@router.post("/agreement/judge", response={200: dict, **ERRORS}, summary="Judge incidents against the agreement (analysts)")
def judge(request, body: JudgeIn):
    if not roles.allows(request.auth, roles.CHANGE, "incident"):
        raise Forbidden("your role may not judge incidents")
    ids = None
    if body.incident_ids is not None:
        visible = Incident.objects.restrict(request.auth)
        wanted = sorted(set(body.incident_ids))
        ids = [pk for k in range(0, len(wanted), 900) for pk in visible.filter(pk__in=wanted[k : k + 900]).values_list("pk", flat=True)]
    r = services.judge(request.auth, incident_ids=ids)
    return {"incidents": r.incidents, "findings_current": r.findings_current, "created": r.created, "superseded": r.superseded, "unjudged": r.unjudged}

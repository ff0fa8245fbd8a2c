"""Use cases of the agreement: load a version, draft and put in force a new one, and judge
incidents against the version in force at their time (core/rules.py does the judging)."""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import numpy as np
import shapely
from django.db import transaction
from django.utils import timezone

from resolute.accounts import roles
from resolute.audit import services as audit
from resolute.core import rules, zones
from resolute.core.fusion import attribute
from resolute.errors import Conflict, Forbidden, InvalidInput
from resolute.monitoring import services as monitoring
from resolute.monitoring.models import Incident, Observation

from .bundle import Bundle
from .models import AgreementVersion, Finding, Provision, Zone

log = logging.getLogger(__name__)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
# Incidents that are judged: merged and dissolved ones live on only as redirects.
LIVE = ("open", "verified", "not_verified", "refuted")


def _require(actor, action: str, what: str) -> None:
    # Strings are system actors (the CLI's operating-system account, the demo, a listener):
    # they are trusted the way the shell that runs them is.
    if actor is not None and not isinstance(actor, str) and not roles.allows(actor, action, "agreement"):
        raise Forbidden(f"your role may not {what}")


# -- versions ---------------------------------------------------------------------------------


def load_bundle(actor, bundle: Bundle, origin: str = "") -> tuple[AgreementVersion, bool]:
    """Store a parsed bundle as a new version in force from its `in_force_from`, derive the
    withdrawal bands and publish its contact line to fusion. Loading the same bundle again
    (same content hash as the newest version) changes nothing and returns that version."""
    _require(actor, roles.CHANGE, "load agreement versions")
    digest = bundle.content_hash()
    newest = AgreementVersion.objects.order_by("-number").first()
    if newest is not None and newest.content_hash == digest:
        return newest, False
    with transaction.atomic():
        version = AgreementVersion.objects.create(
            number=(newest.number + 1) if newest else 1, agreement=bundle.agreement, label=bundle.version_label,
            status=AgreementVersion.DRAFT, side_a=bundle.side_a, side_b=bundle.side_b,
            contact_line_sigma_m=bundle.contact_line_sigma_m, attribution_threshold=bundle.attribution_threshold,
            withdrawal_bands_km=dict(bundle.withdrawal_bands_km), content_hash=digest, origin=origin[:300],
            created_by=audit.actor_name(actor),
        )  # fmt: skip
        Provision.objects.bulk_create(
            [Provision(version=version, ident=p.id, rule_type=p.rule_type, severity=p.severity, title=p.title, text=p.text, params=p.params) for p in bundle.provisions]
        )
        Zone.objects.bulk_create(
            [
                Zone(
                    version=version, kind=z.kind, name=z.name, party=z.party, weapon_classes=list(z.weapon_classes), geometry=z.geometry,
                    valid_from=z.valid_from, valid_to=z.valid_to, inventory=dict(z.inventory), radius_m=z.radius_m,
                )
                for z in bundle.zones
            ]
        )
        audit.record(actor, "agreement.version.load", "agreement_version", version.number, after={"origin": origin[:300], "sha256": digest, "provisions": len(bundle.provisions), "zones": len(bundle.zones)})
        _put_in_force(actor, version, bundle.in_force_from)
    return version, True


def new_draft(actor, source: AgreementVersion, label: str) -> AgreementVersion:
    """Copy a version into a new draft: the only way to change the agreement (admin edits work
    on drafts; a version in force never changes)."""
    _require(actor, roles.CHANGE, "draft agreement versions")
    with transaction.atomic():
        number = (AgreementVersion.objects.order_by("-number").values_list("number", flat=True).first() or 0) + 1
        draft = AgreementVersion.objects.create(
            number=number, agreement=source.agreement, label=label[:200], status=AgreementVersion.DRAFT, side_a=source.side_a,
            side_b=source.side_b, contact_line_sigma_m=source.contact_line_sigma_m, attribution_threshold=source.attribution_threshold,
            withdrawal_bands_km=source.withdrawal_bands_km, origin=f"copied from v{source.number}", created_by=audit.actor_name(actor),
        )  # fmt: skip
        Provision.objects.bulk_create([Provision(version=draft, ident=p.ident, rule_type=p.rule_type, severity=p.severity, title=p.title, text=p.text, params=p.params) for p in source.provisions.all()])
        Zone.objects.bulk_create(
            [
                Zone(version=draft, kind=z.kind, name=z.name, party=z.party, weapon_classes=z.weapon_classes, geometry=z.geometry, valid_from=z.valid_from, valid_to=z.valid_to, inventory=z.inventory, radius_m=z.radius_m)
                for z in source.zones.filter(derived=False)
            ]
        )
        audit.record(actor, "agreement.version.draft", "agreement_version", draft.number, after={"copied_from": source.number, "label": draft.label})
    return draft


def record_draft_edit(actor, version: AgreementVersion, what: str, detail: dict) -> None:
    """Audit an edit made to a draft in the admin (the admin calls this inside its save)."""
    _require(actor, roles.CHANGE, "edit agreement drafts")
    if version.status != AgreementVersion.DRAFT:
        raise Conflict(f"version {version.number} is '{version.status}': only drafts can be edited; create a new draft from it")
    audit.record(actor, f"agreement.draft.{what}", "agreement_version", version.number, after=detail)


def put_in_force(actor, draft: AgreementVersion, at: dt.datetime | None = None) -> AgreementVersion:
    _require(actor, roles.CHANGE, "put agreement versions in force")
    with transaction.atomic():
        draft = AgreementVersion.objects.select_for_update().get(pk=draft.pk)
        _put_in_force(actor, draft, at or timezone.now())
    return draft


def _put_in_force(actor, version: AgreementVersion, at: dt.datetime) -> None:
    if version.status != AgreementVersion.DRAFT:
        raise Conflict(f"version {version.number} is already '{version.status}'")
    if at.tzinfo is None:
        raise InvalidInput("naive time", [{"field": "in_force_from", "message": "give a UTC time with its offset"}])
    core = to_core(version)  # validates the zones and provisions; raises InvalidInput
    Zone.objects.filter(version=version, derived=True).delete()
    Zone.objects.bulk_create(_derived_bands(version, core))
    version.status, version.in_force_from = AgreementVersion.IN_FORCE, at
    version.save(update_fields=["status", "in_force_from"])
    line = version.zones.get(kind="contact_line")
    held = version.zones.get(kind="held_area")
    monitoring.publish_contact_line(
        actor, f"Agreement v{version.number}: {version.label}"[:100], at, line.geometry, held.geometry, version.side_a, version.side_b, version.contact_line_sigma_m
    )
    _PREPARED.pop(version.pk, None)
    audit.record(actor, "agreement.version.in_force", "agreement_version", version.number, after={"in_force_from": at.isoformat(), "derived_bands": len(version.withdrawal_bands_km) * 2})


def _derived_bands(version: AgreementVersion, core: rules.AgreementVersion) -> list[Zone]:
    """One withdrawal band per side per distance: the part of that side's area within the
    distance of the contact line (Package of Measures practice)."""
    line = next(z for z in core.zones if z.kind == "contact_line")
    held = next(z for z in core.zones if z.kind == "held_area")
    by_km: dict[float, list[str]] = defaultdict(list)
    for weapon, km in sorted(version.withdrawal_bands_km.items()):
        by_km[float(km)].append(weapon)
    if not by_km:
        return []
    frame = zones.LocalFrame.around([line.geometry])
    coords = list(line.geometry.coords)
    areas = {version.side_a: held.geometry, version.side_b: zones.other_side_area(coords, held.geometry, max(by_km) + 20.0, frame)}
    out = []
    for km, weapons in sorted(by_km.items()):
        for party, area in areas.items():
            band = zones.withdrawal_band(coords, area, km, frame)
            out.append(
                Zone(version=version, kind="withdrawal_band", name=f"{party} {km:g} km band ({', '.join(weapons)})", party=party, weapon_classes=weapons, geometry=shapely.geometry.mapping(band), derived=True)
            )
    return out


def version_in_force(at: dt.datetime) -> AgreementVersion | None:
    return AgreementVersion.objects.filter(status=AgreementVersion.IN_FORCE, in_force_from__lte=at).order_by("-in_force_from", "-number").first()


# -- the rules engine's adapter -------------------------------------------------------------

_PREPARED: dict[int, rules.PreparedAgreement] = {}


def _epoch(t: dt.datetime | None) -> float | None:
    return None if t is None else (t - EPOCH).total_seconds()


def to_core(version: AgreementVersion) -> rules.AgreementVersion:
    try:
        return rules.AgreementVersion(
            number=version.number, side_a=version.side_a, side_b=version.side_b,
            attribution_threshold=version.attribution_threshold,
            provisions=tuple(rules.Provision(p.ident, p.rule_type, p.severity, dict(p.params or {})) for p in version.provisions.all()),
            zones=tuple(
                rules.Zone(
                    kind=z.kind, name=z.name, geometry=shapely.geometry.shape(z.geometry), party=z.party, weapon_classes=tuple(z.weapon_classes or ()),
                    valid_from=_epoch(z.valid_from), valid_to=_epoch(z.valid_to), inventory=dict(z.inventory or {}), radius_m=z.radius_m,
                )
                for z in version.zones.all()
            ),
        )  # fmt: skip
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"version {version.number} is not a valid agreement: {exc}", [{"field": "zones", "message": str(exc)}]) from None


def prepared(version: AgreementVersion) -> rules.PreparedAgreement:
    """The version projected and indexed for judging; cached per process for versions in force
    (immutable), rebuilt for drafts."""
    if version.status == AgreementVersion.IN_FORCE and version.pk in _PREPARED:
        return _PREPARED[version.pk]
    try:
        p = rules.prepare(to_core(version))
    except ValueError as exc:
        raise InvalidInput(f"version {version.number} is not a valid agreement: {exc}", [{"field": "zones", "message": str(exc)}]) from None
    if version.status == AgreementVersion.IN_FORCE:
        _PREPARED[version.pk] = p
    return p


@dataclass
class JudgeReport:
    incidents: int = 0
    findings_current: int = 0
    created: int = 0
    superseded: int = 0
    unjudged: int = 0  # incidents before any version was in force
    seconds: dict = field(default_factory=dict)


def _key(provision_ident, party, p_party, p_side_a, p_violation, zone, exempt, severity) -> tuple:
    """What makes a finding "the same" on re-judging; probabilities compared to 3 decimals so
    sampling noise in the last digits does not churn the record."""
    r = lambda x: None if x is None else round(float(x), 3)  # noqa: E731
    return (provision_ident, party or "", r(p_party), r(p_side_a), r(p_violation), zone, bool(exempt), int(severity))


def _incidents(incident_ids) -> list[Incident]:
    if incident_ids is None:
        return list(Incident.objects.order_by("pk"))
    ids = sorted(set(incident_ids))
    out = []
    for k in range(0, len(ids), 900):  # SQLite's bound-parameter limit
        out.extend(Incident.objects.filter(pk__in=ids[k : k + 900]).order_by("pk"))
    return out


def judge(actor, incident_ids=None, progress=None) -> JudgeReport:
    """Judge incidents (all live ones, or `incident_ids`) against the version in force at each
    incident's first sighting. Findings that did not change are kept; changed ones supersede
    the old (never edited, never deleted); an incident no longer live loses its current ones."""
    if actor is not None and not isinstance(actor, str) and not roles.allows(actor, roles.CHANGE, "incident"):
        raise Forbidden("your role may not judge incidents")
    report = JudgeReport()
    clock = time.perf_counter()
    incidents = _incidents(incident_ids)
    live = [i for i in incidents if i.status in LIVE]
    facts = _facts(live)
    in_force = list(AgreementVersion.objects.filter(status=AgreementVersion.IN_FORCE).order_by("-in_force_from", "-number"))
    report.seconds["load"] = time.perf_counter() - clock
    clock = time.perf_counter()
    by_version: dict[int, list[int]] = defaultdict(list)
    versions = {v.pk: v for v in in_force}
    for k, inc in enumerate(live):
        v = next((v for v in in_force if v.in_force_from <= inc.first_seen), None)
        if v is None:
            report.unjudged += 1
        else:
            by_version[v.pk].append(k)
    results: dict[int, tuple[AgreementVersion, list]] = {}
    for vid, ks in by_version.items():
        found = rules.judge([facts[k] for k in ks], prepared(versions[vid]))
        for k, fs in zip(ks, found):
            results[live[k].pk] = (versions[vid], fs)
        if progress:
            progress(len(results))
    report.seconds["judge"] = time.perf_counter() - clock
    clock = time.perf_counter()
    _write(actor, incidents, results, report)
    report.seconds["write"] = time.perf_counter() - clock
    report.incidents = len(live)
    return report


def _facts(incidents: list[Incident]) -> list[rules.IncidentFacts]:
    ids = [i.pk for i in incidents]
    weapons: dict[int, Counter] = defaultdict(Counter)
    counts: dict[int, int] = defaultdict(int)
    for k in range(0, len(ids), 900):
        for inc_id, weapon, count in Observation.objects.filter(incident_id__in=ids[k : k + 900]).values_list("incident_id", "weapon_class", "count"):
            if weapon != "unknown":
                weapons[inc_id][weapon] += 1
            counts[inc_id] = max(counts[inc_id], count)
    p_loc = _p_location(incidents)
    out = []
    for inc in incidents:
        cov = ((inc.cov_ee, inc.cov_en), (inc.cov_en, inc.cov_nn)) if inc.fix_ok and inc.cov_ee is not None else None
        located = inc.fix_ok and inc.lat is not None
        out.append(
            rules.IncidentFacts(
                id=inc.pk, event_type=inc.event_type,
                weapon_class=weapons[inc.pk].most_common(1)[0][0] if weapons[inc.pk] else "unknown",
                t0=_epoch(inc.first_seen), t1=_epoch(inc.last_seen),
                lat=inc.lat if located else None, lon=inc.lon if located else None, cov_enu=cov if located else None,
                confidence=float(inc.confidence if inc.confidence is not None else 0.0),
                p_origin_a=inc.p_origin_a, p_impact_a=inc.p_impact_a, p_location_a=p_loc.get(inc.pk),
                count=max(1, counts.get(inc.pk, 1)),
            )
        )  # fmt: skip
    return out


def _p_location(incidents: list[Incident]) -> dict[int, float]:
    """P(the incident's location is on side A): fusion computed it as the origin or impact side
    for fire; for the other families (movement restrictions, interference) compute it here with
    the same method and contact line."""
    from resolute.monitoring.fusion import current_line, prepared as prepared_line

    out = {}
    todo = []
    for inc in incidents:
        if inc.p_impact_a is not None:
            out[inc.pk] = inc.p_impact_a
        elif inc.p_origin_a is not None and inc.origin_incident_id is None:
            out[inc.pk] = inc.p_origin_a
        elif inc.fix_ok and inc.cov_ee is not None:
            todo.append(inc)
    line = current_line() if todo else None
    if line is not None:
        pl = prepared_line(line)
        e, n = pl.project(np.array([i.lon for i in todo]), np.array([i.lat for i in todo]))
        cov = np.array([[[i.cov_ee, i.cov_en], [i.cov_en, i.cov_nn]] for i in todo], dtype=float)
        p, _se = attribute.p_side_a(pl, e, n, cov, invalid="nan")
        for inc, pk in zip(todo, np.atleast_1d(p)):
            if np.isfinite(pk):
                out[inc.pk] = float(pk)
    return out


def _write(actor, incidents: list[Incident], results: dict, report: JudgeReport) -> None:
    now = timezone.now()
    ids = [i.pk for i in incidents]
    with transaction.atomic():
        current: dict[int, list[Finding]] = defaultdict(list)
        for k in range(0, len(ids), 900):
            for f in Finding.objects.filter(incident_id__in=ids[k : k + 900], current=True).select_related("provision"):
                current[f.incident_id].append(f)
        provisions = {}
        new, retire = [], []
        for inc in incidents:
            v, fs = results.get(inc.pk, (None, []))
            if v is not None and v.pk not in provisions:
                provisions[v.pk] = {p.ident: p for p in v.provisions.all()}
            want = {_key(f.provision_id, f.party, f.p_party, f.p_side_a, f.p_violation, f.zone, f.exempt, f.severity): f for f in fs}
            have = {_db_key(f) for f in current.get(inc.pk, []) if v is not None and f.version_id == v.pk}
            stale = [f for f in current.get(inc.pk, []) if v is None or f.version_id != v.pk or _db_key(f) not in want]
            retire.extend(stale)
            for key, f in want.items():
                if key in have:
                    continue
                new.append(
                    Finding(
                        incident=inc, version=v, provision=provisions[v.pk][f.provision_id], rule_type=f.rule_type, severity=f.severity,
                        party=f.party or "", p_party=f.p_party, p_side_a=f.p_side_a, p_violation=f.p_violation, zone=f.zone[:200],
                        exempt=f.exempt, explanation=f.explanation, judged_at=now, classification=inc.classification, tlp=inc.tlp,
                        releasable_to=inc.releasable_to, originator=inc.originator,
                    )
                )  # fmt: skip
        if retire:
            rid = [f.pk for f in retire]
            for k in range(0, len(rid), 900):
                Finding.objects.filter(pk__in=rid[k : k + 900]).update(current=False, superseded_at=now)
        Finding.objects.bulk_create(new, batch_size=500)
        report.created, report.superseded = len(new), len(retire)
        report.findings_current = sum(len(fs) for _v, fs in results.values())
        if new or retire:
            audit.record(
                actor, "agreement.judge", "finding", "batch", after={"incidents": len(incidents), "created": len(new), "superseded": len(retire)},
                batch_item_hashes=[f"{f.incident_id}:{f.provision_id}:{f.party}:{f.p_violation:.3f}:{int(f.exempt)}" for f in new],
            )


def _db_key(f: Finding) -> tuple:
    return _key(f.provision.ident, f.party, f.p_party, f.p_side_a, f.p_violation, f.zone, f.exempt, f.severity)

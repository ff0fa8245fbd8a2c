"""The daily and weekly reports, after the OSCE SMM's (reference/monitoring.md): a reporting day
runs from 19:30 Kyiv time on D-1 to 19:30 on D (`core.reliability.reporting_day`); the report
opens with counts per oblast compared with the previous day, then ceasefire violations by type,
disengagement areas, weapons, freedom of movement of the monitors, the Commission's decisions of
the day and, for coalition readers only, the reliability index.

Every figure is computed from records read through `restrict()` for the edition's reader: the
public edition reads as the public (PUBLIC / TLP:CLEAR / REL ALL only), the restricted edition
as the coalition user it is generated for. Totals are therefore taken after restriction
(docs/markings.md, Aggregates): a reader's counts never include a record that reader may not see.
The restricted edition is stored with the combined marking of everything it was built from
(never less than RESTRICTED / TLP:AMBER / REL ALL), so no one reads a stored report who could
not have read each of its records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter, defaultdict
from zoneinfo import ZoneInfo

import numpy as np
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from resolute.accounts import roles
from resolute.accounts.restrict import MARKING_FIELDS, reader_of
from resolute.audit import services as audit
from resolute.core import reliability as rel
from resolute.core.markings import ALL, Classification, Marking, combine, decode_releasability, encode_releasability
from resolute.core.rules import SEVERITY_WORDS

from .models import EDITIONS, PUBLIC, RESTRICTED, DailyReport

#: Incident statuses counted as events: merged incidents live on in the one that absorbed them,
#: refuted and dissolved ones did not happen. "not verified" stays: the SMM reported what its
#: monitors saw or heard whether or not it was later verified.
LIVE = ("open", "verified", "not_verified")
WEAPON_RULES = ("weapon_in_withdrawal_zone", "weapon_missing_from_storage")
MONITOR_RULES = ("movement_restriction", "interference_with_monitoring")
DISENGAGEMENT_RULES = ("disengagement_area",)
RELIABILITY_DAYS = 30
TREND_DAYS = 14

PUBLIC_MARKING = Marking(Classification.PUBLIC, "CLEAR", (ALL,), "")
RESTRICTED_FLOOR = Marking(Classification.RESTRICTED, "AMBER", (ALL,), "")

# -- areas (oblasts) ----------------------------------------------------------------------------

#: Reference places (name, area, lat, lon in degrees WGS 84, to about 0.01°): every oblast
#: centre of Ukraine, the towns along the 2025 front, and the Russian border regions that face
#: it. An incident belongs to the area of its nearest reference place. This is a Voronoi
#: approximation of the oblast borders, not the borders themselves: within some 20-30 km of a
#: border (Velyka Novosilka, Nikopol/Enerhodar across the Kakhovka reservoir) an incident may be
#: counted in the neighbouring oblast. Coordinates are approximate town centres from public
#: gazetteers. Kyiv city is counted with Kyiv oblast; Sevastopol with Crimea.
AREA_PLACES: tuple[tuple[str, str, float, float], ...] = (
    # Front-line oblasts, with the towns that mark the front so that their borders come out right.
    ("Kherson", "Kherson", 46.64, 32.62), ("Oleshky", "Kherson", 46.62, 32.72), ("Nova Kakhovka", "Kherson", 46.76, 33.35),
    ("Beryslav", "Kherson", 46.84, 33.43), ("Henichesk", "Kherson", 46.17, 34.82), ("Skadovsk", "Kherson", 46.12, 32.91),
    ("Zaporizhzhia", "Zaporizhzhia", 47.84, 35.14), ("Enerhodar", "Zaporizhzhia", 47.50, 34.66), ("Vasylivka", "Zaporizhzhia", 47.44, 35.28),
    ("Orikhiv", "Zaporizhzhia", 47.57, 35.79), ("Huliaipole", "Zaporizhzhia", 47.66, 36.26), ("Tokmak", "Zaporizhzhia", 47.26, 35.71),
    ("Polohy", "Zaporizhzhia", 47.48, 36.25), ("Melitopol", "Zaporizhzhia", 46.85, 35.37), ("Berdiansk", "Zaporizhzhia", 46.76, 36.78),
    ("Donetsk", "Donetsk", 48.02, 37.80), ("Mariupol", "Donetsk", 47.10, 37.55), ("Volnovakha", "Donetsk", 47.60, 37.50),
    ("Velyka Novosilka", "Donetsk", 47.84, 36.83), ("Vuhledar", "Donetsk", 47.78, 37.25), ("Kurakhove", "Donetsk", 47.99, 37.28),
    ("Pokrovsk", "Donetsk", 48.28, 37.18), ("Toretsk", "Donetsk", 48.40, 37.85), ("Horlivka", "Donetsk", 48.31, 38.03),
    ("Bakhmut", "Donetsk", 48.60, 38.00), ("Kramatorsk", "Donetsk", 48.72, 37.56), ("Sloviansk", "Donetsk", 48.85, 37.61),
    ("Siversk", "Donetsk", 48.87, 38.10), ("Lyman", "Donetsk", 48.99, 37.81),
    ("Luhansk", "Luhansk", 48.57, 39.31), ("Alchevsk", "Luhansk", 48.47, 38.80), ("Sievierodonetsk", "Luhansk", 48.95, 38.49),
    ("Kreminna", "Luhansk", 49.05, 38.22), ("Svatove", "Luhansk", 49.41, 38.16), ("Starobilsk", "Luhansk", 49.27, 38.91),
    ("Kharkiv", "Kharkiv", 49.99, 36.23), ("Kupiansk", "Kharkiv", 49.71, 37.62), ("Izium", "Kharkiv", 49.21, 37.26),
    ("Balakliia", "Kharkiv", 49.46, 36.86), ("Vovchansk", "Kharkiv", 50.29, 36.94),
    ("Dnipro", "Dnipropetrovsk", 48.46, 35.05), ("Nikopol", "Dnipropetrovsk", 47.57, 34.40), ("Kryvyi Rih", "Dnipropetrovsk", 47.91, 33.39),
    ("Pavlohrad", "Dnipropetrovsk", 48.53, 35.87),
    ("Simferopol", "Crimea", 44.95, 34.10), ("Sevastopol", "Crimea", 44.62, 33.52), ("Kerch", "Crimea", 45.36, 36.47), ("Dzhankoi", "Crimea", 45.71, 34.39),
    # The other oblasts, by their centres.
    ("Mykolaiv", "Mykolaiv", 46.98, 31.99), ("Odesa", "Odesa", 46.48, 30.73), ("Sumy", "Sumy", 50.91, 34.80),
    ("Chernihiv", "Chernihiv", 51.50, 31.29), ("Poltava", "Poltava", 49.59, 34.55), ("Kropyvnytskyi", "Kirovohrad", 48.51, 32.26),
    ("Cherkasy", "Cherkasy", 49.44, 32.06), ("Kyiv", "Kyiv", 50.45, 30.52), ("Zhytomyr", "Zhytomyr", 50.25, 28.66),
    ("Vinnytsia", "Vinnytsia", 49.23, 28.47), ("Khmelnytskyi", "Khmelnytskyi", 49.42, 26.99), ("Rivne", "Rivne", 50.62, 26.25),
    ("Lutsk", "Volyn", 50.75, 25.33), ("Lviv", "Lviv", 49.84, 24.03), ("Ternopil", "Ternopil", 49.55, 25.59),
    ("Ivano-Frankivsk", "Ivano-Frankivsk", 48.92, 24.71), ("Chernivtsi", "Chernivtsi", 48.29, 25.94), ("Uzhhorod", "Zakarpattia", 48.62, 22.30),
    # Across the border: fire from or into these regions must not be counted in a Ukrainian oblast.
    ("Belgorod", "Belgorod region (RF)", 50.60, 36.59), ("Valuyki", "Belgorod region (RF)", 50.21, 38.10),
    ("Kursk", "Kursk region (RF)", 51.73, 36.19), ("Sudzha", "Kursk region (RF)", 51.19, 35.27),
    ("Bryansk", "Bryansk region (RF)", 53.24, 34.36), ("Rostov-on-Don", "Rostov region (RF)", 47.24, 39.71), ("Taganrog", "Rostov region (RF)", 47.21, 38.94),
)  # fmt: skip
#: Farther than this from every reference place, an incident is not put in any area (the
#: nearest-place rule would otherwise stretch an oblast over the sea or a third country).
AREA_MAX_KM = 80.0
ELSEWHERE = "Elsewhere"
UNLOCATED = "Not located"
EARTH_RADIUS_KM = 6371.0088

_PLACE_LAT = np.radians([p[2] for p in AREA_PLACES])
_PLACE_LON = np.radians([p[3] for p in AREA_PLACES])


def areas_of(lats, lons) -> list[str]:
    """The area (oblast) of each point (degrees): its nearest reference place's, by great-circle
    distance; UNLOCATED without a position, ELSEWHERE beyond AREA_MAX_KM of every place."""
    out = [UNLOCATED] * len(lats)
    idx = [i for i, (a, o) in enumerate(zip(lats, lons)) if a is not None and o is not None]
    if not idx:
        return out
    la = np.radians(np.array([lats[i] for i in idx], dtype=float))[:, None]
    lo = np.radians(np.array([lons[i] for i in idx], dtype=float))[:, None]
    # Haversine, all points against all places at once.
    h = np.sin((_PLACE_LAT - la) / 2) ** 2 + np.cos(la) * np.cos(_PLACE_LAT) * np.sin((_PLACE_LON - lo) / 2) ** 2
    km = 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    nearest = km.argmin(axis=1)
    for k, i in enumerate(idx):
        j = int(nearest[k])
        out[i] = AREA_PLACES[j][1] if km[k, j] <= AREA_MAX_KM else ELSEWHERE
    return out


# -- reporting days -------------------------------------------------------------------------------


def rule() -> rel.ReliabilityRule:
    """The reporting day's time zone and cutoff are the reliability index's (RELIABILITY_RULE),
    so the report and the index always count the same day."""
    from resolute.commission.services import reliability_rule

    return reliability_rule()


def window(day: dt.date, r: rel.ReliabilityRule | None = None) -> tuple[dt.datetime, dt.datetime]:
    """Reporting day `day` as UTC instants (start, end]: the cutoff (19:30 Kyiv by default) on
    day-1 to the cutoff on day; agrees with `core.reliability.reporting_day` (tests check both
    edges), and is 23 or 25 hours long on DST change days."""
    r = r or rule()
    tz, cut = ZoneInfo(r.timezone), dt.time.fromisoformat(r.cutoff)

    def at(d):
        return dt.datetime.combine(d, cut, tzinfo=tz).astimezone(dt.UTC)

    return at(day - dt.timedelta(days=1)), at(day)


def _local(ts: dt.datetime | None, r: rel.ReliabilityRule) -> str:
    return ts.astimezone(ZoneInfo(r.timezone)).strftime("%Y-%m-%d %H:%M %Z") if ts else ""


def _days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


# -- markings of what a report is built from ----------------------------------------------------


class _Markings:
    """Collects the markings of every record a report uses, to mark the report with them."""

    def __init__(self):
        self.seen: set[tuple] = set()

    def add(self, row) -> None:
        get = row.get if isinstance(row, dict) else lambda f: getattr(row, f)
        self.seen.add(tuple(get(f) for f in MARKING_FIELDS))

    def marking(self, edition: str) -> Marking:
        found = [Marking(Classification(c), t, decode_releasability(r), o) for c, t, r, o in self.seen]
        if edition == PUBLIC:
            # restrict() already guarantees this; a stored public report that held anything else
            # would be released to everyone, so check again rather than trust it.
            if any(m.classification != Classification.PUBLIC or m.tlp != "CLEAR" or ALL not in m.releasable_to for m in found):
                raise RuntimeError("a non-public record reached the public edition")
            return PUBLIC_MARKING
        return combine([RESTRICTED_FLOOR, *found])


def marking_text(m: Marking) -> str:
    """'RESTRICTED // TLP:AMBER // REL TO ALL' (the banner and the page header)."""
    rel_to = "ALL" if ALL in m.releasable_to else ", ".join(m.releasable_to)
    text = f"{m.classification.name} // TLP:{m.tlp} // REL TO {rel_to}"
    return text + (f" // ORIGINATOR {m.originator}" if m.tlp == "RED" and m.originator else "")


def _marking_dict(m: Marking) -> dict:
    return {
        "classification": m.classification.name, "tlp": m.tlp, "releasable_to": list(m.releasable_to),
        "originator": m.originator, "text": marking_text(m),
    }  # fmt: skip


# -- the sections --------------------------------------------------------------------------------


def _edition_reader(reader, edition: str):
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {', '.join(EDITIONS)}, got {edition!r}")
    if edition == PUBLIC:
        return AnonymousUser()
    if reader is None or reader_of(reader).public:
        raise ValueError("the restricted edition is computed for a signed-in coalition reader, not the public")
    return reader


def _reader_label(reader) -> str:
    if reader_of(reader).public:
        return "the public (records marked PUBLIC, TLP:CLEAR, releasable to all)"
    return f"{reader.get_username()} ({reader.nation or 'no nation'}, cleared {Classification(reader.clearance).name})"


def _incidents(reader, first: dt.date, last: dt.date, r, marks: _Markings) -> list[dict]:
    """Live incidents the reader may see whose first sighting falls in reporting days
    first..last, each with its reporting day ("day") and area."""
    from resolute.monitoring.models import Incident

    start, end = window(first, r)[0], window(last, r)[1]
    rows = list(
        Incident.objects.restrict(reader).filter(status__in=LIVE, first_seen__gt=start, first_seen__lte=end)
        .values("pk", "first_seen", "lat", "lon", "status", "event_type", "origin_side", "attribution_kind", *MARKING_FIELDS)
    )  # fmt: skip
    areas = areas_of([x["lat"] for x in rows], [x["lon"] for x in rows])
    for x, area in zip(rows, areas):
        # The day comes from the one definition of a reporting day, not from the window above.
        x["day"], x["area"] = rel.reporting_day(x["first_seen"], r), area
    rows = [x for x in rows if first <= x["day"] <= last]
    for x in rows:
        marks.add(x)
    return rows


def _by_area(incidents: list[dict], current: set, previous: set) -> dict:
    now, before, verified = Counter(), Counter(), Counter()
    for x in incidents:
        if x["day"] in current:
            now[x["area"]] += 1
            verified[x["area"]] += x["status"] == "verified"
        elif x["day"] in previous:
            before[x["area"]] += 1
    # Busiest areas first, as the SMM led with the oblast that saw most; unplaced ones last.
    names = sorted(set(now) | set(before), key=lambda a: (a in (ELSEWHERE, UNLOCATED), -now[a], -before[a], a))
    rows = [{"area": a, "count": now[a], "previous": before[a], "change": now[a] - before[a], "verified": verified[a]} for a in names]
    total = {"count": sum(now.values()), "previous": sum(before.values()), "verified": sum(verified.values())}
    total["change"] = total["count"] - total["previous"]
    return {"rows": rows, "total": total}


def _trend(incidents: list[dict], last: dt.date, days: int) -> dict:
    """Daily counts for the `days` reporting days ending `last`, and for the period before."""
    per_day = Counter(x["day"] for x in incidents)
    current = _days(last - dt.timedelta(days=days - 1), last)
    previous = [d - dt.timedelta(days=days) for d in current]
    return {
        "days": days, "labels": [d.isoformat() for d in current], "counts": [per_day[d] for d in current],
        "previous": [per_day[d] for d in previous], "previous_labels": [d.isoformat() for d in previous],
        "total": sum(per_day[d] for d in current), "previous_total": sum(per_day[d] for d in previous),
    }  # fmt: skip


def _findings(reader, start: dt.datetime, end: dt.datetime, marks: _Markings):
    """Current findings on the live incidents of the window that the reader may see."""
    from resolute.agreement.models import Finding
    from resolute.monitoring.models import Incident

    incidents = Incident.objects.restrict(reader).filter(status__in=LIVE, first_seen__gt=start, first_seen__lte=end)
    rows = list(
        Finding.objects.restrict(reader).filter(current=True, incident__in=incidents)
        .select_related("provision").order_by("-severity", "rule_type", "pk")
    )  # fmt: skip
    for f in rows:
        marks.add(f)
    return rows


def _finding_row(f, party_names: dict) -> dict:
    return {
        "ref": f"FND-{f.pk}", "incident": f"INC-{f.incident_id}", "rule_type": f.rule_type, "label": f.rule_type.replace("_", " "),
        "provision": f.provision.ident, "severity": f.severity, "severity_word": SEVERITY_WORDS.get(f.severity, ""),
        "party": party_names.get(f.party, f.party) if f.party else "not attributable", "zone": f.zone,
        "p_violation": round(f.p_violation, 2), "explanation": f.explanation, "exempt": f.exempt,
    }  # fmt: skip


def _by_type(findings, party_names: dict) -> dict:
    groups: dict[str, list] = defaultdict(list)
    exempt = 0
    for f in findings:
        if f.exempt:
            exempt += 1
        else:
            groups[f.rule_type].append(f)
    rows = []
    for rule_type, fs in groups.items():
        by_sev = Counter(f.severity for f in fs)
        by_party = Counter(party_names.get(f.party, f.party) if f.party else "not attributable" for f in fs)
        top = max(by_sev)
        rows.append({
            "rule_type": rule_type, "label": rule_type.replace("_", " "), "count": len(fs), "max_severity": top,
            "max_severity_word": SEVERITY_WORDS.get(top, ""), "by_severity": [{"severity": s, "word": SEVERITY_WORDS.get(s, ""), "count": by_sev[s]} for s in sorted(by_sev, reverse=True)],
            "attribution": [{"party": p, "count": n} for p, n in sorted(by_party.items(), key=lambda kv: (-kv[1], kv[0]))],
        })  # fmt: skip
    rows.sort(key=lambda x: (-x["max_severity"], -x["count"], x["rule_type"]))
    return {"rows": rows, "total": sum(x["count"] for x in rows), "exempt": exempt}


def _denials(reader, start, end, r, marks: _Markings) -> list[dict]:
    """Access denials of the window. AccessDenial carries no markings of its own: it is read
    through its verification and its observation, both of which the reader must be able to see."""
    from resolute.commission.models import AccessDenial, Verification
    from resolute.monitoring.models import Observation

    rows = list(
        AccessDenial.objects.filter(
            at__gt=start, at__lte=end, verification__in=Verification.objects.restrict(reader), observation__in=Observation.objects.restrict(reader)
        ).select_related("verification", "observation").order_by("at", "pk")
    )  # fmt: skip
    areas = areas_of([d.lat for d in rows], [d.lon for d in rows])
    out = []
    for d, area in zip(rows, areas):
        marks.add(d.verification)
        marks.add(d.observation)
        out.append({
            "ref": f"DEN-{d.pk}", "verification": f"VER-{d.verification_id}", "at": _local(d.at, r), "area": area,
            "lat": round(d.lat, 3), "lon": round(d.lon, 3), "denied_by": d.denied_by or "not known", "note": d.note,
        })  # fmt: skip
    return out


def _decisions(reader, edition: str, start, end, r, party_names: dict, marks: _Markings) -> list[dict]:
    from resolute.commission.models import Decision

    published = Q(published_at__gt=start, published_at__lte=end)
    if edition == PUBLIC:
        # The public learns of a decision when it is published, and only then: a decision whose
        # case happens to hold public evidence only is not released before publication.
        qs = Decision.objects.restrict(reader).filter(published, published_at__isnull=False)
    else:
        qs = Decision.objects.restrict(reader).filter(Q(decided_at__gt=start, decided_at__lte=end) | published)
    out = []
    for d in qs.select_related("case").order_by("decided_at", "pk"):
        marks.add(d)
        tally = d.tally or {}
        out.append({
            "ref": f"DEC-{d.pk}", "case": d.case.number, "attribution": party_names.get(d.attribution, d.attribution) if d.attribution else "not attributable",
            "breach_class": d.breach_class.replace("_", " "), "measures": [m.replace("_", " ") for m in d.measures], "rationale": d.rationale,
            "tally": {k: tally.get(k) for k in ("yes", "no", "abstain", "seats")}, "dissenting": d.dissenting,
            "decided_at": _local(d.decided_at, r), "published_at": _local(d.published_at, r),
        })  # fmt: skip
    return out


def _reliability(reader, day: dt.date, marks: _Markings) -> dict | None:
    """The index of the last RELIABILITY_DAYS days the reader may see (days behind a violation
    the reader may not see are withheld: counted, never shown) and the condition, which is
    released to every coalition role (docs/markings.md, the reliability index)."""
    from resolute.commission.models import ReliabilityDay
    from resolute.commission.services import reliability_condition, reliability_rule

    if not roles.allows(reader, roles.VIEW, "reliability"):
        return None
    first = day - dt.timedelta(days=RELIABILITY_DAYS - 1)
    visible = {x.day: x for x in ReliabilityDay.objects.restrict(reader).filter(day__gte=first, day__lte=day)}
    stored = set(ReliabilityDay.objects.filter(day__gte=first, day__lte=day).values_list("day", flat=True))
    days = []
    for d in _days(first, day):
        x = visible.get(d)
        if x is not None:
            marks.add(x)
            days.append({"day": d.isoformat(), "index": round(x.index, 2), "count": x.count, "serious": x.serious, "calm": x.calm, "state": "shown"})
        else:
            days.append({"day": d.isoformat(), "index": None, "count": None, "serious": None, "calm": None, "state": "withheld" if d in stored else "none"})
    c = reliability_condition(as_of=day)
    rr = reliability_rule()
    # Not c.reason: it quotes the index of the last breach day, which this reader may not see.
    return {
        "days": days, "withheld": sum(x["state"] == "withheld" for x in days), "missing": sum(x["state"] == "none" for x in days),
        "threshold": rr.threshold, "window_days": rr.window_days, "serious_severity": rr.serious_severity,
        "condition": {"met": c.met, "streak_days": c.streak_days, "needed": c.needed,
                      "since": c.since.isoformat() if c.since else None, "last_breach": c.last_breach.isoformat() if c.last_breach else None},
    }  # fmt: skip


def _sides() -> tuple[str, str]:
    """Side A and side B (party codes) of the agreement in force, for the map's colours."""
    from resolute.agreement.models import AgreementVersion

    v = AgreementVersion.objects.filter(status=AgreementVersion.IN_FORCE).order_by("-in_force_from").first()
    return (v.side_a, v.side_b) if v else ("", "")


def _map(incidents: list[dict], day: dt.date, end: dt.datetime, party_names: dict) -> dict:
    """The day's located incidents and the contact line in force at the day's end. The line is
    reference data without markings (fusion attributes every incident against it), as the
    agreement's own contact-line zone is public."""
    from resolute.monitoring.fusion import current_line

    line = current_line(end)
    side_a, side_b = (line.side_a, line.side_b) if line else _sides()
    points = []
    for x in incidents:
        if x["day"] != day or x["lat"] is None or x["lon"] is None:
            continue
        side = "a" if side_a and x["origin_side"] == side_a else "b" if side_b and x["origin_side"] == side_b else "u"
        points.append({"lat": round(x["lat"], 4), "lon": round(x["lon"], 4), "side": side})
    coords = line.line.get("coordinates", []) if line and isinstance(line.line, dict) else []
    return {
        "points": points, "line": [[round(float(lon), 4), round(float(lat), 4)] for lon, lat in coords] or None,
        "line_name": line.name if line else "", "unlocated": sum(1 for x in incidents if x["day"] == day and (x["lat"] is None or x["lon"] is None)),
        "sides": {"a": party_names.get(side_a, side_a), "b": party_names.get(side_b, side_b)},
    }  # fmt: skip


def _party_names(reader) -> dict:
    from resolute.monitoring.models import Party

    return dict(Party.objects.restrict(reader).values_list("code", "name"))


# -- the reports ---------------------------------------------------------------------------------


def daily(reader, day: dt.date, edition: str) -> dict:
    """The daily report's content for reporting day `day` (19:30 Kyiv on day-1 to 19:30 on day)
    in `edition` ("public" or "restricted"), computed only from records `reader` may see: the
    public edition ignores `reader` and reads as the public. Plain JSON-ready data; the charts
    are drawn from it by `render_html`. Times are shown in the reporting time zone."""
    reader = _edition_reader(reader, edition)
    r = rule()
    start, end = window(day, r)
    marks = _Markings()
    party_names = _party_names(reader)
    # One read serves the counts (D, D-1), the map (D) and the trend (two periods of 14 days).
    incidents = _incidents(reader, day - dt.timedelta(days=2 * TREND_DAYS - 1), day, r, marks)
    findings = _findings(reader, start, end, marks)
    live = [f for f in findings if not f.exempt]
    content = {
        "kind": "daily", "edition": edition, "day": day.isoformat(),
        "window": {"start": _local(start, r), "end": _local(end, r), "start_utc": start.isoformat(), "end_utc": end.isoformat(), "timezone": r.timezone},
        "reader": _reader_label(reader),
        "by_area": _by_area(incidents, {day}, {day - dt.timedelta(days=1)}),
        "violations": _by_type(findings, party_names),
        "disengagement": [_finding_row(f, party_names) for f in live if f.rule_type in DISENGAGEMENT_RULES],
        "weapons": [_finding_row(f, party_names) for f in live if f.rule_type in WEAPON_RULES],
        "monitors": {"findings": [_finding_row(f, party_names) for f in live if f.rule_type in MONITOR_RULES],
                     "denials": _denials(reader, start, end, r, marks) if edition == RESTRICTED else None},
        "decisions": _decisions(reader, edition, start, end, r, party_names, marks),
        "reliability": _reliability(reader, day, marks) if edition == RESTRICTED else None,
        "map": _map(incidents, day, end, party_names),
        "trend": _trend(incidents, day, TREND_DAYS),
    }  # fmt: skip
    content["marking"] = _marking_dict(marks.marking(edition))
    content["generated_at"] = _local(timezone.now(), r)
    return content


def weekly(reader, end_day: dt.date) -> dict:
    """The week of reporting days end_day-6 .. end_day for `reader` (the public when anonymous),
    compared with the week before, with trend charts over 7 and 14 days. Like the SMM's status
    reports: totals and trends, no item lists."""
    public = reader is None or reader_of(reader).public
    edition = PUBLIC if public else RESTRICTED
    reader = _edition_reader(reader, edition)
    r = rule()
    first = end_day - dt.timedelta(days=6)
    start, end = window(first, r)[0], window(end_day, r)[1]
    marks = _Markings()
    party_names = _party_names(reader)
    incidents = _incidents(reader, end_day - dt.timedelta(days=27), end_day, r, marks)
    week = set(_days(first, end_day))
    findings = _findings(reader, start, end, marks)
    content = {
        "kind": "weekly", "edition": edition, "first_day": first.isoformat(), "day": end_day.isoformat(),
        "window": {"start": _local(start, r), "end": _local(end, r), "start_utc": start.isoformat(), "end_utc": end.isoformat(), "timezone": r.timezone},
        "reader": _reader_label(reader),
        "by_area": _by_area(incidents, week, {d - dt.timedelta(days=7) for d in week}),
        "violations": _by_type(findings, party_names),
        "trends": [_trend(incidents, end_day, 7), _trend(incidents, end_day, 14)],
    }  # fmt: skip
    content["marking"] = _marking_dict(marks.marking(edition))
    content["generated_at"] = _local(timezone.now(), r)
    return content


def content_sha256(content: dict) -> str:
    """SHA-256 of the content's canonical JSON, without the generation time: two runs over the
    same records give the same hash."""
    data = {k: v for k, v in content.items() if k != "generated_at"}
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


# -- rendering -----------------------------------------------------------------------------------


def render_html(content: dict) -> str:
    """The report as one self-contained HTML page (styles inline, charts as data: URIs), so the
    same text is served, stored and printed, and rendering fetches nothing."""
    from django.template.loader import render_to_string

    from . import charts

    kind = "Daily report" if content["kind"] == "daily" else "Weekly report"
    ctx = {
        "c": content, "public": content["edition"] == PUBLIC,
        # Text placed inside CSS strings (page header and footer): reduced to characters that
        # cannot end the string, whatever a stored code holds.
        "marking_css": _css_text(content["marking"]["text"]),
        "footer_css": _css_text(f"{kind} {content['day']}, {content['edition']} edition"),
    }  # fmt: skip
    if content["kind"] == "daily":
        ctx["map_uri"] = charts.data_uri(charts.map_svg(content["map"], places=AREA_PLACES))
        ctx["trend_uri"] = charts.data_uri(charts.trend_svg(content["trend"]))
        if content.get("reliability"):
            ctx["index_uri"] = charts.data_uri(charts.index_svg(content["reliability"]))
        return render_to_string("reports/daily.html", ctx)
    ctx["trends"] = [(t, charts.data_uri(charts.trend_svg(t))) for t in content["trends"]]
    return render_to_string("reports/weekly.html", ctx)


def _css_text(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9 /:+,.()-]", "", text)


def _no_network_fetcher():
    import weasyprint

    class NoNetworkFetcher(weasyprint.URLFetcher):
        """Resolves data: URIs (the report's own charts) and refuses everything else: a report
        must never reach the network or the file system while it is rendered, whatever text an
        observation or a finding carries."""

        def __init__(self):
            super().__init__(allowed_protocols=("data",), allow_redirects=False)

        def fetch(self, url, headers=None):
            if not url.lower().startswith("data:"):
                raise ValueError(f"report rendering fetches nothing; refused {url[:80]!r}")
            return super().fetch(url, headers)

    return NoNetworkFetcher()


def render_pdf(html: str, url_fetcher=None) -> bytes:
    """The HTML as PDF (WeasyPrint). No base URL and a fetcher that refuses all but data: URIs:
    relative links resolve to nothing and no http(s) or file request is ever made. `url_fetcher`
    replaces the fetcher (tests pass a spy around the default one)."""
    import weasyprint

    return weasyprint.HTML(string=html, base_url=None, url_fetcher=url_fetcher or _no_network_fetcher()).write_pdf()


# -- generating and storing ------------------------------------------------------------------------


def generate_daily(actor, day: dt.date, restricted_reader) -> list[DailyReport]:
    """Compute, render and store both editions of the daily report for `day`: the public one as
    the public sees it, the restricted one as `restricted_reader` sees it (choose the reader whose
    view the coalition should get: the stored edition's marking follows what that reader saw).
    Regenerating replaces the stored edition; the audit entry keeps the hashes of both."""
    now = timezone.now()
    built = []
    # Rendering (the PDF above all) is the slow part: done before the transaction, which then only writes.
    for edition, reader in ((PUBLIC, None), (RESTRICTED, restricted_reader)):
        content = daily(reader, day, edition)
        html = render_html(content)
        built.append((edition, content, html, render_pdf(html)))
    rows = []
    with transaction.atomic():
        for edition, content, html, pdf in built:
            row = DailyReport.objects.select_for_update().filter(day=day, edition=edition).first()
            before = {"content_sha256": row.content_sha256, "html_sha256": _sha(row.html.encode()), "pdf_sha256": _sha(bytes(row.pdf)),
                      "generated_at": row.generated_at.isoformat(), "marking": stored_marking(row)} if row else None  # fmt: skip
            row = row or DailyReport(day=day, edition=edition)
            m = content["marking"]
            row.classification, row.tlp = int(Classification[m["classification"]]), m["tlp"]
            row.releasable_to, row.originator = encode_releasability(m["releasable_to"]), m["originator"]
            row.html, row.pdf, row.generated_at, row.generated_by = html, pdf, now, audit.actor_name(actor)
            row.reader = "public" if edition == PUBLIC else restricted_reader.get_username()
            row.content_sha256 = content_sha256(content)
            row.save()
            audit.record(
                actor, "report.regenerate" if before else "report.generate", "report", row.pk, before=before,
                after={"day": day.isoformat(), "edition": edition, "reader": row.reader, "content_sha256": row.content_sha256,
                       "html_sha256": _sha(html.encode()), "pdf_sha256": _sha(pdf), "marking": m["text"]},
            )  # fmt: skip
            rows.append(row)
    return rows


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_marking(row: DailyReport) -> str:
    return marking_text(Marking(Classification(row.classification), row.tlp, decode_releasability(row.releasable_to), row.originator))

"""A small world for the daily report: a winter reporting day D (Kyiv = UTC+2, so the 19:30
cutoff is 17:30 UTC), incidents of D and D-1 with different markings in several oblasts,
findings, a published and an unpublished decision, an access denial and two days of the
reliability index. Distinctive words in the free text let tests search the rendered pages."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import pytest

from resolute.core.markings import Classification
from tests.agreement.conftest import agreement_v1  # noqa: F401  (fixture)

D = dt.date(2026, 1, 14)
UTC = dt.UTC

PUBLIC = {"classification": Classification.PUBLIC, "tlp": "CLEAR", "releasable_to": "|ALL|"}
RESTRICTED = {"classification": Classification.RESTRICTED, "tlp": "AMBER", "releasable_to": "|ALL|"}
SECRET_USA = {"classification": Classification.SECRET, "tlp": "AMBER", "releasable_to": "|USA|", "originator": "USA"}

# Places (lat, lon): Donetsk and Pokrovsk (Donetsk oblast), Orikhiv (Zaporizhzhia), Kreminna
# (Luhansk), Kupiansk (Kharkiv).
DONETSK, POKROVSK, ORIKHIV, KREMINNA, KUPIANSK = (48.02, 37.78), (48.29, 37.17), (47.56, 35.80), (49.05, 38.21), (49.71, 37.60)


def at(day: dt.date, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC)


def incident(where, when, marking, status="verified", origin="RUS", **over):
    from resolute.monitoring.models import Incident

    lat, lon = where if where else (None, None)
    return Incident.objects.create(
        event_type="explosion_impact", status=status, first_seen=when, last_seen=when + dt.timedelta(minutes=5), lat=lat, lon=lon,
        fix_ok=lat is not None, confidence=0.9, origin_side=origin, attribution_kind="cross_line" if origin else "indeterminate",
        observation_count=2, **marking, **over,
    )  # fmt: skip


def finding(version, inc, rule_type, severity, explanation, party="RUS", exempt=False):
    from resolute.agreement.models import Finding

    provision = version.provisions.filter(rule_type=rule_type).first() or version.provisions.first()
    return Finding.objects.create(
        incident=inc, version=version, provision=provision, rule_type=rule_type, severity=severity, party=party, p_party=0.95,
        p_violation=0.9, zone="", exempt=exempt, explanation=explanation, current=True, judged_at=inc.first_seen + dt.timedelta(hours=1),
        classification=inc.classification, tlp=inc.tlp, releasable_to=inc.releasable_to, originator=inc.originator,
    )  # fmt: skip


def decision(number, decided_at, rationale, marking, published_at=None):
    from resolute.commission.models import Case, Decision, Proposal

    case = Case.objects.create(number=number, title=f"case {number}", origin="referral", opened_by="test", opened_at=decided_at - dt.timedelta(days=3), state="decided", **marking)
    proposal = Proposal.objects.create(
        case=case, number=1, attribution="RUS", breach_class="serious", measures=["demarche"], rationale=rationale,
        proposed_by="chair", proposed_at=decided_at - dt.timedelta(hours=2), status="adopted",
    )  # fmt: skip
    return Decision.objects.create(
        case=case, proposal=proposal, attribution="RUS", breach_class="serious", measures=["demarche", "public_statement"], rationale=rationale,
        tally={"yes": 4, "no": 1, "abstain": 0, "seats": 5}, dissenting=[{"member": "FRA", "opinion": "insufficient evidence"}],
        decided_by="chair", decided_at=decided_at, published_at=published_at, **marking,
    )  # fmt: skip


@pytest.fixture
def world(db, users, agreement_v1):  # noqa: F811  (the imported fixture)
    """The records of the report's tests; returns them by name."""
    from resolute.commission.models import AccessDenial, ReliabilityDay, Verification
    from resolute.monitoring.models import ContactLine, Observation, Source

    w = {"version": agreement_v1}
    prev = D - dt.timedelta(days=1)
    # Day D (17:30 UTC on D-1 to 17:30 UTC on D).
    w["pub_donetsk"] = incident(DONETSK, at(D, 6), PUBLIC)
    w["pub_orikhiv"] = incident(ORIKHIV, at(D, 1), PUBLIC, origin="UKR")
    w["edge_in"] = incident(KREMINNA, at(D, 17, 29), PUBLIC, origin="")  # one minute before the cutoff: day D
    w["edge_out"] = incident(KREMINNA, at(D, 17, 31), PUBLIC)  # one minute after: day D+1
    w["restricted"] = incident(POKROVSK, at(D, 9), RESTRICTED, status="open")
    w["secret"] = incident(POKROVSK, at(D, 11), SECRET_USA)
    w["refuted"] = incident(DONETSK, at(D, 12), PUBLIC, status="refuted")
    w["unlocated"] = incident(None, at(D, 13), RESTRICTED, status="not_verified")
    # Day D-1.
    w["prev_donetsk"] = incident(DONETSK, at(prev, 8), PUBLIC)
    w["prev_kupiansk"] = incident(KUPIANSK, at(prev, 10), PUBLIC)

    v = agreement_v1
    w["f_public"] = finding(v, w["pub_donetsk"], "ceasefire_fire", 2, "Public finding: impacts east of the line.")
    w["f_exempt"] = finding(v, w["pub_orikhiv"], "ceasefire_fire", 2, "Declared exercise.", party="UKR", exempt=True)
    w["f_weapon"] = finding(v, w["restricted"], "weapon_in_withdrawal_zone", 4, "RESTRICTED-WEAPON-NARRATIVE: two MLRS 12 km from the line.")
    w["f_movement"] = finding(v, w["restricted"], "movement_restriction", 2, "RESTRICTED-MOVEMENT-NARRATIVE: patrol stopped at a checkpoint.")
    w["f_secret"] = finding(v, w["secret"], "cross_line_fire", 3, "SECRET-NARRATIVE: intercepted fire order.")

    w["published"] = decision("C-2026-001", at(D, 8), "PUBLISHED-RATIONALE: repeated shelling of Donetsk.", PUBLIC, published_at=at(D, 10))
    w["unpublished"] = decision("C-2026-002", at(D, 9), "UNPUBLISHED-RATIONALE: weapons in the band.", RESTRICTED)
    # Marked public (its case held public evidence only) but not yet published: the public
    # edition must still leave it out.
    w["public_unpublished"] = decision("C-2026-003", at(D, 9, 30), "NOT-YET-PUBLISHED-RATIONALE.", PUBLIC)

    monitor = users["monitor"]
    ver = Verification.objects.create(
        incident=w["restricted"], allegation="weapons seen", allegation_source="mission", alleged_by=monitor, state="tasked",
        received_at=at(prev, 12), review_due=at(D, 12), team="MVT-1", **RESTRICTED,
    )  # fmt: skip
    src = Source.objects.create(code="MVT-1", name="team 1", channel="patrol", nation="FRA", reliability="A", credibility=1, **RESTRICTED)
    obs = Observation.objects.create(
        client_id=uuid.uuid4(), content_hash=hashlib.sha256(b"denial").hexdigest(), channel="patrol", observer_lat=POKROVSK[0], observer_lon=POKROVSK[1],
        observer_accuracy_m=20, observed_from=at(D, 7), observed_to=at(D, 7), event_type="movement_restriction", perception="seen",
        lat=POKROVSK[0], lon=POKROVSK[1], radius_m=50, narrative="access denied", source=src, reliability="A", credibility=1, received_at=at(D, 7, 5), **RESTRICTED,
    )  # fmt: skip
    w["denial"] = AccessDenial.objects.create(verification=ver, reported_by=monitor, at=at(D, 7), lat=POKROVSK[0], lon=POKROVSK[1], denied_by="RUS", note="DENIAL-NOTE: turned back at the bridge.", observation=obs)

    ReliabilityDay.objects.create(day=prev, index=2.0, count=2, serious=0, calm=True, computed_at=at(D, 18), classification=Classification.RESTRICTED, tlp="GREEN", releasable_to="|ALL|")
    ReliabilityDay.objects.create(day=D, index=12.0, count=3, serious=1, calm=False, computed_at=at(D, 18), **SECRET_USA)

    line = [[35.5, 47.0], [36.5, 47.7], [37.5, 48.2], [37.9, 48.6], [38.0, 49.2], [37.7, 49.8]]
    ContactLine.objects.create(
        name="line of 2025", valid_from=at(D - dt.timedelta(days=400), 0), line={"type": "LineString", "coordinates": line},
        side_a_area={"type": "Polygon", "coordinates": [[*line, [40.0, 49.8], [40.0, 47.0], [35.5, 47.0]]]}, side_a="RUS", side_b="UKR",
    )  # fmt: skip
    return w


@pytest.fixture
def cleared(users):
    """A coalition reader cleared for RESTRICTED records and more, but not for SECRET REL USA:
    the analyst (POL, CONFIDENTIAL)."""
    return users["analyst"]

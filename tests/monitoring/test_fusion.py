"""The fusion service on the database: incidents located, scored and attributed; identities
stable across runs; joins, merges and markings; the run audited; the API shows it all."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from pydantic import TypeAdapter

from resolute.audit.models import AuditEntry
from resolute.core.geo import distance_m, forward
from resolute.monitoring import fusion, services
from resolute.monitoring.models import ContactLine, Incident, Observation
from resolute.monitoring.schemas import ObservationIn

pytestmark = [pytest.mark.django_db, pytest.mark.db_backends]
T0 = dt.datetime(2026, 11, 20, 22, 0, tzinfo=dt.timezone.utc)
TARGET = (47.50, 35.90)  # lat, lon of the true event
ONE = TypeAdapter(ObservationIn)


def bearing_report(obs_lat, obs_lon, minutes=0.0, source="OP-UKR-01", chain=None, event_type="explosion_impact", marking=None, sigma=2.0):
    """A monitor's exact bearing (σ 2°) from an observer to TARGET."""
    from pyproj import Geod

    az, _, dist = Geod(ellps="WGS84").inv(obs_lon, obs_lat, TARGET[1], TARGET[0])
    t = T0 + dt.timedelta(minutes=minutes)
    return ONE.validate_python(
        {
            "client_id": str(uuid.uuid4()), "channel": "observation_post",
            "observer": {"lat": obs_lat, "lon": obs_lon, "accuracy_m": 10},
            "observed_from": t.isoformat(), "observed_to": (t + dt.timedelta(minutes=1)).isoformat(),
            "event_type": event_type, "perception": "heard_and_seen", "count": 3, "weapon_class": "artillery_100mm_plus",
            "direction": {"bearing_deg": az % 360, "bearing_sigma_deg": sigma, "range_min_m": dist * 0.8, "range_max_m": dist * 1.2},
            "source": source, "grade": "B2", "chain": chain or [f"{source}-{uuid.uuid4().hex[:6]}"],
            "marking": marking or {"classification": "RESTRICTED", "tlp": "AMBER", "releasable_to": ["ALL"], "originator": "FRA"},
        }
    )  # fmt: skip


def observers(n=3, dist=5000.0):
    return [forward(TARGET[0], TARGET[1], 360.0 * k / n + 20.0, dist) for k in range(n)]


@pytest.fixture
def sources(db):
    for code in ("OP-UKR-01", "OP-UKR-02", "USA-NIC"):
        services.register_source("test", code, code, "observation_post", "B", 2)


def test_reports_of_one_event_become_one_located_incident(sources):
    services.submit_observations([bearing_report(lat, lon) for lat, lon in observers(3)], "test")
    report = fusion.fuse("test")
    assert report.incidents == 1 and report.created == 1 and report.located == 1
    inc = Incident.objects.get()
    assert inc.fix_ok and inc.observation_count == 3
    assert distance_m(inc.lat, inc.lon, *TARGET) < 3 * inc.semi_major_m
    assert 0.5 < inc.confidence <= 1 and inc.confidence_word
    assert len(inc.confidence_terms) == 3
    assert set(Observation.objects.values_list("incident_id", flat=True)) == {inc.pk}


def test_refusing_keeps_identities_and_writes_nothing_new(sources):
    services.submit_observations([bearing_report(lat, lon) for lat, lon in observers(3)], "test")
    fusion.fuse("test")
    first = Incident.objects.get()
    again = fusion.fuse("test")
    assert again.created == 0 and again.updated == 0
    assert Incident.objects.get().pk == first.pk
    runs = AuditEntry.objects.filter(action="fusion.run")
    assert runs.count() == 2 and runs.first().batch_count == 1


def test_a_new_report_joins_its_incident_incrementally(sources):
    services.submit_observations([bearing_report(lat, lon) for lat, lon in observers(3)], "test")
    fusion.fuse("test")
    inc = Incident.objects.get()
    late = services.submit_observations([bearing_report(*forward(TARGET[0], TARGET[1], 250.0, 4000.0), minutes=2)], "test")
    report = fusion.fuse("test", observation_ids=late.created)
    assert report.created == 0
    inc.refresh_from_db()
    assert inc.observation_count == 4 and Observation.objects.get(pk=late.created[0]).incident_id == inc.pk


def test_a_bridging_report_merges_two_incidents_and_the_merge_is_audited(sources):
    # Two groups of point reports 4 km apart (beyond the 3 km radius); a report between them bridges.
    def point(lat, lon, minutes):
        t = T0 + dt.timedelta(minutes=minutes)
        return ONE.validate_python({
            "client_id": str(uuid.uuid4()), "channel": "uav", "observer": {"lat": lat, "lon": lon, "accuracy_m": 5},
            "observed_from": t.isoformat(), "observed_to": t.isoformat(), "event_type": "explosion_impact",
            "perception": "seen", "location": {"lat": lat, "lon": lon, "error_m": 50}, "source": "OP-UKR-01", "grade": "B2",
        })  # fmt: skip

    west = [point(*forward(47.5, 35.9, 270.0, 2000.0 + 50 * k), k) for k in range(2)]
    east = [point(*forward(47.5, 35.9, 90.0, 2000.0 + 50 * k), k) for k in range(2)]
    services.submit_observations(west + east, "test")
    fusion.fuse("test")
    assert Incident.objects.filter(status="open").count() == 2
    bridge = services.submit_observations([point(47.5, 35.9, 1), point(*forward(47.5, 35.9, 90.0, 40.0), 1)], "test")
    report = fusion.fuse("test", observation_ids=bridge.created)
    assert report.merged == 1
    live = Incident.objects.get(status="open")
    gone = Incident.objects.get(status="merged")
    assert gone.merged_into_id == live.pk and live.observation_count == 6
    entry = AuditEntry.objects.filter(action="fusion.run").last()
    assert entry.after["merges"] == [[gone.pk, live.pk]]


def test_an_incident_carries_its_most_restrictive_members_markings(sources):
    secret = {"classification": "SECRET", "tlp": "AMBER", "releasable_to": ["USA", "GBR"], "originator": "USA"}
    items = [bearing_report(lat, lon) for lat, lon in observers(2)] + [bearing_report(*observers(3)[2], source="USA-NIC", marking=secret)]
    services.submit_observations(items, "test")
    fusion.fuse("test")
    inc = Incident.objects.get()
    assert (inc.classification, inc.releasable_to, inc.originator) == (3, "|GBR|USA|", "USA")


def test_relayed_copies_of_one_report_count_once(sources):
    base = bearing_report(*observers(3)[0], chain=["OP-UKR-01-77"])
    services.submit_observations([base], "test")
    fusion.fuse("test")
    alone = Incident.objects.get().confidence
    relay = bearing_report(*observers(3)[0], source="USA-NIC", chain=["OP-UKR-01-77", "USA-NIC"])
    services.submit_observations([relay], "test")
    fusion.fuse("test")
    inc = Incident.objects.get(status="open")
    assert inc.observation_count == 2 and abs(inc.confidence - alone) <= 0.01


def test_attribution_against_the_contact_line(sources):
    # A north-south line through the target's longitude + 0.05°; side A (RUS) is east of it.
    lon_line = TARGET[1] + 0.05
    ContactLine.objects.create(
        name="test line", valid_from=T0 - dt.timedelta(days=1), side_a="RUS", side_b="UKR", drawing_sigma_m=100,
        line={"type": "LineString", "coordinates": [[lon_line, 46.5], [lon_line, 48.5]]},
        side_a_area={"type": "Polygon", "coordinates": [[[lon_line, 46.5], [lon_line, 48.5], [40.0, 48.5], [40.0, 46.5], [lon_line, 46.5]]]},
    )
    services.submit_observations([bearing_report(lat, lon) for lat, lon in observers(3)], "test")
    fusion.fuse("test")
    inc = Incident.objects.get()
    # The impact lies ~3.8 km west of the line: on UKR's side with near certainty.
    assert inc.p_impact_a is not None and inc.p_impact_a < 0.05 and inc.impact_side == "UKR"
    assert "impact side UKR" in inc.attribution


def test_the_api_shows_fix_ellipse_confidence_and_members(api, tokens, sources):
    services.submit_observations([bearing_report(lat, lon) for lat, lon in observers(3)], "test")
    fusion.fuse("test")
    inc = Incident.objects.get()
    p = api.get(f"/api/v1/incidents/{inc.pk}", tokens["analyst"]).json()["properties"]
    ring = p["fix"]["ellipse_95"]["coordinates"][0]
    assert p["fix"]["ok"] and ring[0] == ring[-1] and len(ring) > 10
    assert len(p["confidence_breakdown"]) == 3 and len(p["observations"]) == 3
    listed = api.get("/api/v1/incidents", tokens["analyst"], min_confidence=0.99).json()
    assert all(f["properties"]["confidence"] >= 0.99 for f in listed["features"])
    assert api.get("/api/v1/incidents", tokens["analyst"], attribution="sideways").status_code == 422


def test_nothing_to_fuse_is_a_quiet_no_op(db):
    report = fusion.fuse("test")
    assert report.observations == 0 and not AuditEntry.objects.filter(action="fusion.run").exists()


@pytest.mark.django_db(transaction=True)
def test_observations_posted_to_the_api_are_fused_in_the_background(api, tokens, sources, settings):
    settings.FUSION_ON_INTAKE = True
    for lat, lon in observers(3):
        r = api.post("/api/v1/observations", bearing_report(lat, lon).model_dump(mode="json"), tokens["monitor"])
        assert r.status_code == 201
    assert fusion.intake_fusion.flush(timeout=60)
    inc = Incident.objects.get(status="open")
    assert inc.observation_count == 3 and inc.fix_ok


def test_sources_are_reestimated_from_verified_incidents(sources):
    from resolute.core.fusion.confidence import prior_for_grade
    from resolute.monitoring.models import Source

    assert fusion.reestimate_sources("test").reason  # nothing verified yet: nothing changes
    # OP-UKR-01 reported 12 incidents later verified; OP-UKR-02 reported 12 later refuted.
    for k in range(24):
        src = "OP-UKR-01" if k < 12 else "OP-UKR-02"
        item = bearing_report(*observers(3)[0], minutes=60 * k, source=src)
        services.submit_observations([item], "test")
    fusion.fuse("test")
    for inc in Incident.objects.all():
        src = Observation.objects.filter(incident=inc).values_list("source__code", flat=True).first()
        inc.status = "verified" if src == "OP-UKR-01" else "refuted"
        inc.save()
    report = fusion.reestimate_sources("test")
    assert report.verified == 12 and report.refuted == 12
    prior_lr = prior_for_grade("B", 2).likelihood_ratio
    good, bad = Source.objects.get(code="OP-UKR-01"), Source.objects.get(code="OP-UKR-02")
    assert good.p_report_real / good.p_report_false > prior_lr > bad.p_report_real / bad.p_report_false
    assert AuditEntry.objects.filter(action="source.reestimate").exists()
    # The next fusion uses the new rates: the refuted source's reports now weigh less.
    assert fusion.source_models()["OP-UKR-02"].likelihood_ratio < prior_lr

"""The agreement as versioned data, and incidents judged against the version in force."""

from __future__ import annotations

import datetime as dt

import pytest

from resolute.agreement import bundle, services
from resolute.agreement.models import AgreementVersion, Finding
from resolute.audit.models import AuditEntry
from resolute.errors import Conflict
from resolute.monitoring.models import ContactLine, Incident

from .conftest import agreement_yaml, provision, zones

pytestmark = [pytest.mark.django_db, pytest.mark.db_backends]


def _incident(**over):
    fields = dict(
        event_type="ground_assault", first_seen=dt.datetime(2026, 11, 1, 3, tzinfo=dt.timezone.utc), last_seen=dt.datetime(2026, 11, 1, 4, tzinfo=dt.timezone.utc),
        lat=48.0, lon=36.2, fix_ok=True, cov_ee=90_000.0, cov_en=0.0, cov_nn=90_000.0, confidence=0.97, p_impact_a=0.999, observation_count=3,
    )  # fmt: skip
    fields.update(over)
    return Incident.objects.create(**fields)


def test_loading_makes_a_version_in_force_and_publishes_its_line(agreement_v1):
    assert agreement_v1.number == 1 and agreement_v1.status == AgreementVersion.IN_FORCE
    # Derived withdrawal bands: one per side per distance.
    bands = agreement_v1.zones.filter(kind="withdrawal_band")
    assert sorted((z.party, z.weapon_classes[0]) for z in bands) == [("RUS", "artillery_100mm_plus"), ("RUS", "tank"), ("UKR", "artillery_100mm_plus"), ("UKR", "tank")]
    line = ContactLine.objects.get()
    assert line.side_a == "RUS" and line.valid_from == agreement_v1.in_force_from
    assert AuditEntry.objects.filter(action="agreement.version.in_force").count() == 1


def test_the_same_bundle_twice_is_one_version(agreement_v1):
    again, created = services.load_bundle("test", bundle.parse(agreement_yaml(), zones()))
    assert (again.pk, created) == (agreement_v1.pk, False)
    assert AgreementVersion.objects.count() == 1


def test_an_incident_is_judged_against_the_version_in_force_at_its_time(agreement_v1):
    # v2 (from 2026-11-10) makes ground assaults severity 3 instead of 5.
    v2_yaml = agreement_yaml("2026-11-10T00:00:00Z", "Amended", ()).replace("severity: 5", "severity: 3")
    v2, created = services.load_bundle("test", bundle.parse(v2_yaml, zones()))
    assert created and v2.number == 2
    early, late = _incident(), _incident(first_seen=dt.datetime(2026, 11, 12, tzinfo=dt.timezone.utc), last_seen=dt.datetime(2026, 11, 12, 1, tzinfo=dt.timezone.utc))
    services.judge("test")
    f_early = Finding.objects.get(incident=early, rule_type="ground_assault", current=True)
    f_late = Finding.objects.get(incident=late, rule_type="ground_assault", current=True)
    assert (f_early.version.number, f_early.severity) == (1, 5)
    assert (f_late.version.number, f_late.severity) == (2, 3)
    # A ground assault on side A's ground is presumed to be side B's.
    assert f_early.party == "UKR" and f_early.p_party == pytest.approx(0.9, abs=0.01)


def test_rejudging_keeps_unchanged_findings_and_supersedes_changed_ones(agreement_v1):
    inc = _incident()
    services.judge("test")
    first = set(Finding.objects.filter(incident=inc, current=True).values_list("pk", flat=True))
    r = services.judge("test")
    assert r.created == 0 and set(Finding.objects.filter(incident=inc, current=True).values_list("pk", flat=True)) == first
    Incident.objects.filter(pk=inc.pk).update(p_impact_a=0.5)  # fusion moved it onto the line
    services.judge("test", incident_ids=[inc.pk])
    old = Finding.objects.filter(pk__in=first, rule_type="ground_assault").get()
    assert old.current is False and old.superseded_at is not None  # kept, never deleted
    new = Finding.objects.get(incident=inc, rule_type="ground_assault", current=True)
    assert new.party == "" and "could not be attributed" in new.explanation


def test_incidents_before_any_version_are_not_judged(agreement_v1):
    _incident(first_seen=dt.datetime(2019, 1, 1, tzinfo=dt.timezone.utc), last_seen=dt.datetime(2019, 1, 1, 1, tzinfo=dt.timezone.utc))
    assert services.judge("test").unjudged == 1
    assert not Finding.objects.exists()


def test_a_version_in_force_never_changes_only_a_new_draft(agreement_v1, users):
    draft = services.new_draft(users["administrator"], agreement_v1, "amendment 1")
    assert draft.status == "draft" and draft.provisions.count() == agreement_v1.provisions.count()
    assert not draft.zones.filter(derived=True).exists()
    with pytest.raises(Conflict, match="only drafts"):
        services.record_draft_edit(users["administrator"], agreement_v1, "provision", {})
    services.put_in_force(users["administrator"], draft, dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc))
    draft.refresh_from_db()
    assert draft.status == "in_force" and draft.zones.filter(derived=True).count() == 4
    with pytest.raises(Conflict, match="already 'in_force'"):
        services.put_in_force(users["administrator"], draft)
    assert services.version_in_force(dt.datetime(2026, 12, 2, tzinfo=dt.timezone.utc)).number == 2
    assert services.version_in_force(dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)).number == 1


def test_only_administrators_change_the_agreement(agreement_v1, users):
    from resolute.errors import Forbidden

    for role in ("analyst", "commissioner", "delegate", "monitor"):
        with pytest.raises(Forbidden):
            services.new_draft(users[role], agreement_v1, "x")


def test_fusion_triggers_judging(agreement_v1, source, make_observation):
    from resolute.monitoring import fusion
    from resolute.monitoring import services as monitoring
    from resolute.monitoring.schemas import ObservationIn

    items = [
        ObservationIn.model_validate(make_observation(event_type="ground_assault", direction=None, location={"lat": 48.0, "lon": 36.2 + k * 0.001, "error_m": 300}, perception="seen"))
        for k in range(2)
    ]
    monitoring.submit_observations(items, "test")
    fusion.fuse("test")
    assert Finding.objects.filter(rule_type="ground_assault", current=True).exists()


def test_api_lists_versions_provisions_zones_and_findings(api, agreement_v1, tokens):
    _incident()
    services.judge("test")
    body = api.get("/api/v1/agreement/versions/1", tokens["monitor"]).json()
    assert {p["id"] for p in body["provisions"]} >= {"1.1", "1.3"} and body["provisions"][0]["title"]["uk"].startswith("Стаття")
    assert {f["properties"]["kind"] for f in body["zones"]["features"]} == {"contact_line", "held_area", "withdrawal_band"}
    assert api.get("/api/v1/agreement/in-force", tokens["public"], at="2026-11-01T00:00:00Z").json()["number"] == 1
    assert api.get("/api/v1/agreement/in-force", tokens["public"], at="2019-01-01T00:00:00Z").status_code == 404
    items = api.get("/api/v1/findings", tokens["analyst"], min_severity=5).json()["items"]
    assert [f["provision"] for f in items] == ["1.3"] and items[0]["attribution"] == "UKR"
    assert api.get("/api/v1/findings", tokens["analyst"], party="bad").status_code == 422


def test_load_from_a_directory_through_the_cli(tmp_path, agreement_v1):
    import json

    from resolute.cli import main

    (tmp_path / "agreement.yaml").write_text(agreement_yaml("2026-12-20T00:00:00Z", "v2", (provision("4.1", "mine_laying", 3),)))
    (tmp_path / "zones.geojson").write_text(json.dumps(zones()))
    assert main(["agreement", "load", str(tmp_path)]) == 0
    assert AgreementVersion.objects.get(number=2).provisions.filter(ident="4.1").exists()
    (tmp_path / "zones.geojson").write_text("{not json")
    assert main(["agreement", "load", str(tmp_path)]) == 1
    assert AgreementVersion.objects.count() == 2

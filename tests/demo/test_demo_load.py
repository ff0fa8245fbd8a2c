"""Loading the demo world into the database (both backends): through the intake service,
idempotent, ground truth apart and linked by client_id only."""

from __future__ import annotations

import datetime as dt

import pytest

from resolute.audit import services as audit
from resolute.demo import services as demo
from resolute.demo.models import ScenarioRun, TrueEvent, TruthLink
from resolute.agreement.models import AgreementVersion, Finding
from resolute.commission.models import AccessDenial, ActivationEvent, Case, Decision, ReliabilityDay, Verification
from resolute.monitoring.models import CoalitionMember, Observation, Party

pytestmark = [pytest.mark.django_db, pytest.mark.db_backends]


def test_demo_loads_once_and_reloads_identically():
    first = demo.load_demo(seed=3, password="a demo password 1")
    n = Observation.objects.count()
    # The week, plus the access denial the demo's verification walk records.
    assert n == first["observations loaded"] + 1 and n > 1000
    assert Observation.objects.filter(intake="verification", event_type="movement_restriction").count() == 1
    run = ScenarioRun.objects.get(seed=3)
    assert TrueEvent.objects.filter(run=run).count() > 100
    assert TruthLink.objects.filter(run=run).count() >= n - 1
    false_reports = TruthLink.objects.filter(run=run, truth_id__isnull=True).count()
    assert false_reports > 0

    again = demo.load_demo(seed=3, password="another password 2")
    assert again["observations loaded"] == 0 and Observation.objects.count() == n
    assert ScenarioRun.objects.count() == 1
    assert Case.objects.count() == 1 and AgreementVersion.objects.count() == 1
    assert audit.verify().ok


def test_demo_shows_the_whole_path_to_an_activation():
    """observations → incident → findings → verification → verified → case → vote → decision
    with measures → (armed attack) pending activation."""
    summary = demo.load_demo(seed=3)
    case = Case.objects.get()
    v = case.verification
    assert v.state == "verified" and v.incident.status == "verified" and v.reports.exists()
    assert Finding.objects.filter(incident=v.incident, current=True, exempt=False, severity__gte=3).exists()
    decision = Decision.objects.get(case=case)
    assert case.state == "published" and decision.published_at and decision.dissenting
    assert decision.measures and decision.tally["adopted"]
    if decision.breach_class == "armed_attack":
        # The activation event was written with the decision, and the playbook has taken it.
        event = ActivationEvent.objects.get(decision=decision)
        assert event.status == "consumed" and event.playbook_run.tasks.exists()
    assert summary["decision path: case"] == case.number
    # The queue has work left in it, and the denial of access is on record.
    assert Verification.objects.filter(state="received").count() >= 1
    assert AccessDenial.objects.count() == 1
    assert ReliabilityDay.objects.exists()


def test_demo_week_ends_before_now_at_the_daily_cut_off():
    now = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)
    start = demo.default_start(now)
    assert start == dt.datetime(2026, 11, 17, 17, 30, tzinfo=dt.timezone.utc)
    assert demo.default_start(dt.datetime(2026, 11, 25, 18, 0, tzinfo=dt.timezone.utc)).day == 18


def test_demo_seeds_the_coalition_and_the_parties():
    demo.load_demo(seed=3)
    assert set(Party.objects.values_list("code", flat=True)) == {"UKR", "RUS"}
    codes = set(CoalitionMember.objects.values_list("code", flat=True))
    assert {"USA", "EUU", "FRA", "GBR", "DEU", "POL"} <= codes and len(codes) >= 36


def test_demo_observations_carry_the_mix_of_markings():
    demo.load_demo(seed=3)
    classes = set(Observation.objects.values_list("classification", flat=True))
    assert {0, 1} <= classes and (2 in classes or 3 in classes)
    assert Observation.objects.filter(tlp="RED").exists()


def test_demo_shows_the_guarantees():
    """Pledges through to delivery with EUR totals on two valuation bases, a force board with
    fill rates and a closed gate (the demo week's verified armed attack), and the activation's
    response tasks with running clocks."""
    from resolute.accounts.models import User
    from resolute.forces import services as forces
    from resolute.forces.models import Requirement
    from resolute.playbook.models import ResponseTask
    from resolute.support import services as support
    from resolute.support.models import LedgerEntry, Pledge

    demo.load_demo(seed=3)
    admin = User.objects.get(username="admin")
    assert Pledge.objects.values("member").distinct().count() >= 35
    assert LedgerEntry.objects.filter(stage__in=("received", "verified")).exists()
    reported = {r["pillar"]: r["eur"] for r in support.totals(admin, ("pillar",), "reported")}
    book = {r["pillar"]: r["eur"] for r in support.totals(admin, ("pillar",), "net_book_value")}
    assert reported["support"] != book["support"]  # equipment valued differently
    assert any(r["excluded_double_counted"] for r in support.totals(admin, ("pillar",)))
    assert Requirement.objects.count() >= 9
    g = forces.gate()
    assert not g.open and any("reliable cessation" in r for r in g.reasons)
    tasks = ResponseTask.objects.filter(status="open")
    assert tasks.filter(kind="consultations").exists() and tasks.filter(kind="national_step").exists()

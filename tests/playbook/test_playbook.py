"""The attack-response playbook: an armed-attack determination activates it once, creates tasks
with clocks, members report their steps, overdue tasks escalate, and "what if" members decline."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from resolute.commission.models import ActivationEvent
from resolute.errors import Conflict, Forbidden
from resolute.monitoring.models import CoalitionMember
from resolute.playbook import services
from resolute.playbook.models import Activation, ResponseTask

pytestmark = [pytest.mark.django_db, pytest.mark.db_backends]


@pytest.fixture
def instrument(db, users):
    from resolute.monitoring import services as monitoring

    monitoring.load_reference_data("test")
    i = services.add_instrument(users["administrator"], "Declaration", "declaration", ["USA", "DEU", "FRA", "GBR", "POL"], "political", dt.date(2026, 1, 6))
    m = {c: CoalitionMember.objects.get(code=c) for c in ("USA", "DEU", "FRA")}
    services.add_package(users["administrator"], i, m["DEU"], "military_capabilities", "IRIS-T", Decimal("500"), national_step="Bundestag approval", national_step_hours=96)
    services.add_package(users["administrator"], i, m["FRA"], "military_capabilities", "SAMP/T", Decimal("250"))
    services.add_package(users["administrator"], i, m["USA"], "intelligence", "ISR")
    return i


@pytest.fixture
def armed_attack(people, voting_case):
    from resolute.commission import services as commission

    voting_case.proposals.update(breach_class="armed_attack", measures=["playbook_referral"])
    for who in ("chair", "comm-GBR", "comm-FRA", "comm-DEU"):
        commission.vote(people[who], voting_case, "yes")
    decision = commission.close_vote(people["chair"], voting_case)
    return ActivationEvent.objects.get(decision=decision)


def test_activation_creates_tasks_with_clocks_and_cannot_run_twice(instrument, armed_attack, api, tokens_of):
    run = services.activate("system:playbook", armed_attack)
    tasks = {t.key: t for t in run.tasks.all()}
    deu = instrument.packages.get(member__code="DEU").pk
    assert {"consultations", "senior-meeting", f"package-{deu}-step", f"package-{deu}-deliver"} <= set(tasks)
    assert tasks["consultations"].due_at - run.started_at == dt.timedelta(hours=24)
    assert tasks[f"package-{deu}-step"].member == "DEU" and tasks[f"package-{deu}-step"].due_at - run.started_at == dt.timedelta(hours=96)
    with pytest.raises(Conflict, match="'consumed'"):
        services.activate("system:playbook", armed_attack)
    assert Activation.objects.count() == 1
    body = api.get("/api/v1/playbook/activations", tokens_of("delegate")).json()
    clock = next(t for t in body[0]["tasks"] if t["key"] == "consultations")["clock"]
    assert 0 < clock["seconds_left"] <= 24 * 3600 and not clock["overdue"]


def test_the_decision_activates_the_playbook_once_it_commits(instrument, people, voting_case, django_capture_on_commit_callbacks):
    from resolute.commission import services as commission

    voting_case.proposals.update(breach_class="armed_attack", measures=["playbook_referral"])
    for who in ("chair", "comm-GBR", "comm-FRA", "comm-DEU"):
        commission.vote(people[who], voting_case, "yes")
    with django_capture_on_commit_callbacks(execute=True):
        commission.close_vote(people["chair"], voting_case)
    assert ActivationEvent.objects.get().status == "consumed" and ResponseTask.objects.exists()


def test_members_report_their_own_tasks_and_overdue_ones_escalate(instrument, armed_attack, people):
    run = services.activate("system:playbook", armed_attack)
    step = run.tasks.get(key=f"package-{instrument.packages.get(member__code='DEU').pk}-step")  # DEU's parliamentary step
    with pytest.raises(Forbidden, match="may not report"):
        services.update_task(people["comm-FRA"], step, "done")  # commissioners do not report steps
    from resolute.accounts import services as accounts

    fra = accounts.create_user("test", "delegate-fra", "delegate", nation="FRA", clearance=2)
    with pytest.raises(Forbidden, match="not FRA"):
        services.update_task(fra, step, "done")
    services.update_task(people["delegate"], step, "done", "approved 31 votes to 4")  # the DEU delegation
    with pytest.raises(Conflict, match="'done'"):
        services.update_task(people["delegate"], step, "declined")
    late = services.escalate_overdue("system:playbook", now=run.started_at + dt.timedelta(hours=25))
    assert [t.key for t in late] == ["consultations"]
    assert services.escalate_overdue("system:playbook", now=run.started_at + dt.timedelta(hours=26)) == []  # escalated once


def test_what_if_members_decline(api, instrument, people, tokens_of):
    r = api.post("/api/v1/playbook/what-if", {"unavailable": ["DEU"]}, tokens_of("chair"))
    assert r.status_code == 200
    mil = r.json()["packages"]["military_capabilities"]
    assert (mil["packages"], mil["value_eur"], mil["lost_value_eur"], mil["members"]) == (1, "250.00", "500.00", ["FRA"])
    assert api.post("/api/v1/playbook/what-if", {"unavailable": ["deu"]}, tokens_of("chair")).status_code == 422

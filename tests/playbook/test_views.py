"""The playbook page: who may read it, instruments and packages, each activation with its
trigger decision, task clocks with overdue ones highlighted, the task report form (own
nation's tasks only; refusals change nothing), and the "what if"."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from resolute.audit.models import AuditEntry
from resolute.core.markings import Classification
from resolute.playbook import services
from resolute.playbook.models import ResponseTask
from tests.playbook.test_playbook import armed_attack, instrument  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db
READERS = ("administrator", "commissioner", "chair", "delegate", "ledger_officer")
NOT_READERS = ("monitor", "analyst", "public")


@pytest.fixture
def run(instrument, armed_attack):  # noqa: F811
    return services.activate("system:playbook", armed_attack)


def _deu_step(instrument):  # noqa: F811
    return ResponseTask.objects.get(key=f"package-{instrument.packages.get(member__code='DEU').pk}-step")


def _get(client, user, url=None):
    client.force_login(user)
    return client.get(url or reverse("playbook"))


def test_the_playbook_opens_for_readers_and_is_refused_to_others(client, run, people):
    for role in READERS:
        assert _get(client, people[role]).status_code == 200, role
    task = run.tasks.first()
    for role in NOT_READERS:
        assert _get(client, people[role]).status_code == 403, role
        assert client.post(reverse("task-update", args=[task.pk]), {"status": "done"}).status_code == 403
    client.logout()
    assert client.get(reverse("playbook")).status_code == 302
    assert ResponseTask.objects.get(pk=task.pk).status == "open"


def test_the_page_shows_instruments_the_activation_and_task_clocks(client, instrument, run, people, armed_attack):  # noqa: F811
    html = _get(client, people["chair"]).content.decode()
    assert "Declaration" in html and "IRIS-T" in html and "SAMP/T" in html and "Bundestag approval" in html
    assert "500.00" in html and "250.00" in html  # package values, EUR
    decision = armed_attack.decision
    assert decision.case.number in html and "armed_attack" in html  # the trigger decision
    assert armed_attack.determined_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M") in html
    assert 'class="clock"' in html and "h left" in html and "clock overdue" not in html
    for t in run.tasks.all():
        assert f'id="task-{t.pk}"' in html


def test_an_overdue_task_is_highlighted(client, instrument, run, people):  # noqa: F811
    late = run.tasks.get(key="consultations")
    ResponseTask.objects.filter(pk=late.pk).update(due_at=timezone.now() - dt.timedelta(hours=2))
    html = _get(client, people["delegate"]).content.decode()
    row = html.split(f'<tr id="task-{late.pk}" class="overdue">')[1].split("</tr>")[0]
    assert "clock overdue" in row and "1 task overdue" in html
    assert html.count('class="overdue"') == 1


def test_a_delegation_updates_its_own_task_through_the_form(client, instrument, run, people):  # noqa: F811
    step = _deu_step(instrument)
    html = _get(client, people["delegate"]).content.decode()
    assert "Update the task" in html and f'<label for="status-{step.pk}" class="small">Status</label>' in html
    consultations = run.tasks.get(key="consultations")
    assert f'action="{reverse("task-update", args=[consultations.pk])}"' not in html  # the coalition's task, not DEU's
    audits = AuditEntry.objects.count()
    r = client.post(reverse("task-update", args=[step.pk]), {"status": "done", "note": "approved 31 votes to 4"})
    assert r.status_code == 302
    step.refresh_from_db()
    assert (step.status, step.note) == ("done", "approved 31 votes to 4") and step.done_at is not None
    assert AuditEntry.objects.count() == audits + 1
    audit = AuditEntry.objects.order_by("-seq").first()
    assert (audit.action, audit.target_id, audit.after["status"]) == ("playbook.task", str(step.pk), "done")
    page = client.get(r["Location"]).content.decode()
    assert f"Task {step.pk} is now done" in page
    assert f'action="{reverse("task-update", args=[step.pk])}"' not in page  # reported once


@pytest.mark.parametrize(
    "who, task, status, words",
    [
        ("delegate", "consultations", "done", "not DEU"),  # the coalition's task
        ("comm-FRA", "deu-step", "done", "may not report"),  # commissioners do not report steps
        ("delegate", "deu-step", "open", "choose a status"),
        ("delegate", "deu-step", "", "choose a status"),
    ],
)
def test_a_refused_update_changes_nothing_and_says_why(client, instrument, run, people, who, task, status, words):  # noqa: F811
    t = _deu_step(instrument) if task == "deu-step" else run.tasks.get(key=task)
    client.force_login(people[who])
    audits = AuditEntry.objects.count()
    r = client.post(reverse("task-update", args=[t.pk]), {"status": status})
    assert r.status_code == 302
    assert words in client.get(r["Location"]).content.decode()
    assert ResponseTask.objects.get(pk=t.pk).status == "open" and AuditEntry.objects.count() == audits


def test_a_task_already_reported_is_refused(client, instrument, run, people):  # noqa: F811
    step = _deu_step(instrument)
    services.update_task(people["delegate"], step, "done")
    client.force_login(people["delegate"])
    r = client.post(reverse("task-update", args=[step.pk]), {"status": "declined"})
    assert "already" in client.get(r["Location"]).content.decode()
    assert ResponseTask.objects.get(pk=step.pk).status == "done"


def test_a_task_the_reader_may_not_see_is_not_found(client, instrument, run, people):  # noqa: F811
    step = _deu_step(instrument)
    ResponseTask.objects.filter(pk=step.pk).update(classification=Classification.SECRET, releasable_to="|USA|")
    client.force_login(people["delegate"])  # DEU, CONFIDENTIAL
    assert f'id="task-{step.pk}"' not in client.get(reverse("playbook")).content.decode()
    assert client.post(reverse("task-update", args=[step.pk]), {"status": "done"}).status_code == 404
    assert ResponseTask.objects.get(pk=step.pk).status == "open"


def test_what_if_members_decline(client, instrument, people):  # noqa: F811
    html = _get(client, people["chair"], f"{reverse('playbook')}?unavailable=DEU").content.decode()
    block = html.split('id="h-what-if-packages"')[1]
    assert "military capabilities" in block and "250.00" in block and "500.00" in block and "FRA" in block
    r = _get(client, people["chair"], f"{reverse('playbook')}?unavailable=Germany")
    assert r.status_code == 400 and 'id="err-unavailable"' in r.content.decode()


def test_without_activation_the_page_says_so(client, instrument, people):  # noqa: F811
    assert "has not been triggered" in _get(client, people["delegate"]).content.decode()

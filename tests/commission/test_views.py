"""The verification and Commission pages: who may open them, what markings hide, and that every
form goes through the service and leaves exactly the audit trail the API leaves."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.urls import reverse

from resolute.audit.models import AuditEntry
from resolute.commission import services
from resolute.commission.models import Case, Decision, Verification
from resolute.core.markings import Classification

pytestmark = pytest.mark.django_db

EVERY_ROLE = ("administrator", "monitor", "analyst", "commissioner", "chair", "delegate", "ledger_officer", "public")


def _in(hours: float = 24) -> dt.datetime:
    # Whole minutes: a datetime-local field carries no seconds, and the page and the API must
    # be given the same instant.
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=hours)).replace(second=0, microsecond=0)


def _local(t: dt.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M")


def _mark() -> int:
    last = AuditEntry.objects.order_by("-seq").first()
    return last.seq if last else 0


def _entries(since: int, target_type: str | None = None, target_id=None) -> list[AuditEntry]:
    qs = AuditEntry.objects.filter(seq__gt=since)
    if target_type:
        qs = qs.filter(target_type=target_type)
    if target_id is not None:
        qs = qs.filter(target_id=str(target_id))
    return list(qs.order_by("seq"))


# Values that differ between two runs of the same steps on two records: times of day and ids
# (a case.note entry's "note" is the note's id; elsewhere "note" is text and must match).
VOLATILE = {"until", "report", "denial", "observation", "published_at", "case"}


def _comparable(entries) -> list[tuple]:
    def clean(action, d):
        volatile = VOLATILE | ({"note"} if action == "case.note" else set())
        return {k: ("*" if k in volatile else v) for k, v in (d or {}).items()}

    return [(e.actor, e.action, e.target_type, clean(e.action, e.before), clean(e.action, e.after)) for e in entries]


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


class Pages:
    """The Django test client as one person after another."""

    def __init__(self, client, people):
        self.c, self.people = client, people

    def as_(self, who):
        self.c.force_login(self.people[who])
        return self.c

    def get(self, who, name, *args, **params):
        return self.as_(who).get(reverse(name, args=args), params)

    def step(self, who, v, step, follow=False, **data):
        return self.as_(who).post(reverse("verification-step", args=[v.pk, step]), data, follow=follow)

    def case_step(self, who, case, step, follow=False, **data):
        return self.as_(who).post(reverse("case-step", args=[case.pk, step]), data, follow=follow)


@pytest.fixture
def pages(client, people):
    return Pages(client, people)


@pytest.fixture
def received(people, assault):
    return services.open_verification(people["analyst"], "assault on the line", "party", assault)


@pytest.fixture
def reported(people, received):
    services.review(people["analyst2"], received, True)
    services.task(people["analyst2"], received, "MVT Alpha", people["monitor"], _in(24))
    services.report(people["monitor"], received, "found craters", [], [], "verified")
    return Verification.objects.get(pk=received.pk)


@pytest.fixture
def referral(people, assault):
    return services.refer(people["delegate"], "assault at the line", [assault], "Germany refers the assault")


@pytest.fixture
def voting(people, referral):
    services.invite_parties(people["chair"], referral, _in(24))
    for party in ("UKR", "RUS"):
        services.record_response(people["chair"], referral, party, "we deny it")
    services.open_deliberation(people["chair"], referral)
    services.propose(people["chair"], referral, "UKR", "serious", ["demarche"], "reasons")
    return Case.objects.get(pk=referral.pk)


# -- who may open which page ------------------------------------------------------------------


def test_pages_need_a_signed_in_person(client, received, referral):
    for url in (reverse("review-queue"), reverse("verification", args=[received.pk]), reverse("commission"), reverse("case", args=[referral.pk])):
        r = client.get(url)
        assert r.status_code == 302 and r["Location"].startswith("/accounts/login/"), url
    r = client.post(reverse("verification-step", args=[received.pk, "review"]), {"admissible": "admit"})
    assert r.status_code == 302 and Verification.objects.get(pk=received.pk).state == "received"


def test_every_page_renders_for_its_roles_and_is_refused_or_hidden_for_the_others(pages, received, referral):
    reads_verification = {"administrator", "monitor", "analyst", "commissioner", "chair", "delegate"}
    reads_cases = reads_verification - {"monitor"}
    for who in EVERY_ROLE:
        queue = pages.get(who, "review-queue")
        item = pages.get(who, "verification", received.pk)
        board = pages.get(who, "commission")
        case = pages.get(who, "case", referral.pk)
        if who in reads_verification:
            assert (queue.status_code, item.status_code) == (200, 200), who
            assert f'href="/verification/{received.pk}/"' in _text(queue)
        else:
            # A role that never works with verification is told so on the list; a record is a
            # 404, as if it did not exist.
            assert (queue.status_code, item.status_code) == (403, 404), who
        if who in reads_cases:
            assert (board.status_code, case.status_code) == (200, 200), who
            assert referral.number in _text(board)
        else:
            assert (board.status_code, case.status_code) == (403, 404), who


def test_a_record_above_clearance_or_not_releasable_is_a_404_and_absent_from_lists(pages, people, received, referral):
    Verification.objects.filter(pk=received.pk).update(classification=Classification.SECRET, releasable_to="|USA|")
    Case.objects.filter(pk=referral.pk).update(classification=Classification.SECRET, releasable_to="|USA|")
    # analyst: POL, CONFIDENTIAL (too low); analyst-3: ITA, SECRET (not releasable); analyst-2: USA, SECRET
    for who in ("analyst", "analyst3", "delegate"):
        assert pages.get(who, "verification", received.pk).status_code == 404, who
        assert f"/verification/{received.pk}/" not in _text(pages.get(who, "review-queue")), who
    assert pages.get("analyst2", "verification", received.pk).status_code == 200
    assert f"/verification/{received.pk}/" in _text(pages.get("analyst2", "review-queue"))
    # commissioner: GBR, SECRET: not releasable; the chair is USA
    assert pages.get("commissioner", "case", referral.pk).status_code == 404
    assert referral.number not in _text(pages.get("commissioner", "commission"))
    assert pages.get("chair", "case", referral.pk).status_code == 200
    # A step on a record the reader may not see is a 404 too, and changes nothing.
    before = _mark()
    assert pages.step("analyst3", received, "review", admissible="admit").status_code == 404
    assert pages.case_step("commissioner", referral, "note", text="x").status_code == 404
    assert Verification.objects.get(pk=received.pk).state == "received" and _entries(before) == []


def test_the_queue_shows_age_clock_lock_and_filters_by_state(pages, people, received, assault):
    dismissed = services.open_verification(people["analyst"], "nothing in it", "public", assault)
    services.review(people["analyst2"], dismissed, False, "no basis")
    Verification.objects.filter(pk=received.pk).update(received_at=_in(-30), review_due=_in(-6))
    services.take_lock(people["analyst2"], received)
    page = _text(pages.get("analyst3", "review-queue"))
    open_part, closed_part = page.split('id="h-closed"')
    assert f"/verification/{received.pk}/" in open_part and f"/verification/{dismissed.pk}/" not in open_part
    assert f"/verification/{dismissed.pk}/" in closed_part
    assert "1 day, 6 hours" in open_part  # the age
    assert "clock overdue" in open_part  # the review clock ran out six hours ago
    assert "being reviewed by analyst-2 until" in open_part
    assert f'href="/incidents/{assault.pk}/"' in open_part
    only = _text(pages.get("analyst3", "review-queue", state="dismissed"))
    assert f"/verification/{dismissed.pk}/" in only and f"/verification/{received.pk}/" not in only
    assert pages.get("analyst3", "review-queue", state="nonsense").status_code == 200  # falls back to open


# -- field verification through the forms -----------------------------------------------------


def test_the_verification_forms_take_the_steps_and_audit_them_as_the_api_does(pages, api, people, tokens_of, assault):
    on_page = services.open_verification(people["analyst"], "assault", "party", assault)
    by_api = services.open_verification(people["analyst"], "assault", "party", assault)
    deadline = _in(24)
    start = _mark()

    def both(who, step, page_data, method, path, body):
        before = _mark()
        r = pages.step(who, on_page, step, **page_data)
        assert r.status_code == 302 and r["Location"] == reverse("verification", args=[on_page.pk]), (step, r.content[:500])
        assert len(_entries(before, "verification", on_page.pk)) == 1, step  # one step, one entry
        url = f"/api/v1/verifications/{by_api.pk}/{path}"
        auth = {"HTTP_AUTHORIZATION": f"Bearer {tokens_of(who)}"}
        r = api.c.delete(url, **auth) if method == "delete" else api.post(url, body, tokens_of(who))
        assert r.status_code in (200, 201), (step, r.content)

    both("analyst2", "lock", {}, "post", "lock", {})
    both("analyst2", "unlock", {}, "delete", "lock", {})
    both("analyst2", "review", {"admissible": "admit", "note": "credible"}, "post", "review", {"admissible": True, "note": "credible"})
    both("analyst2", "task", {"team": "MVT Alpha", "team_lead": "monitor-user", "deadline": _local(deadline)}, "post", "task", {"team": "MVT Alpha", "team_lead": "monitor-user", "deadline": deadline.isoformat()})
    both("monitor", "deny", {"lat": "48.2", "lon": "36.3", "denied_by": "RUS", "note": "checkpoint"}, "post", "access-denied", {"lat": 48.2, "lon": 36.3, "denied_by": "RUS", "note": "checkpoint"})
    both("monitor", "report", {"findings": "craters", "recommendation": "verified"}, "post", "report", {"findings": "craters", "recommendation": "verified"})
    both("analyst3", "conclude", {"outcome": "verified", "note": "confirmed"}, "post", "conclude", {"outcome": "verified", "note": "confirmed"})

    assert _comparable(_entries(start, "verification", on_page.pk)) == _comparable(_entries(start, "verification", by_api.pk))
    on_page.refresh_from_db()
    assert (on_page.state, on_page.team, on_page.team_lead, on_page.deadline) == ("verified", "MVT Alpha", people["monitor"], deadline)
    assert on_page.reports.get().recommendation == "verified" and on_page.denials.get().denied_by == "RUS"
    # A verified violation of severity 5 opens a Commission case, as from the API.
    assert Case.objects.filter(verification=on_page).count() == 1 == Case.objects.filter(verification=by_api).count()
    page = _text(pages.get("analyst3", "verification", on_page.pk))
    for line in ("Team tasked", "Access denied", "Investigation report", "Concluded", "craters", "checkpoint", Case.objects.get(verification=on_page).number):
        assert line in page, line
    # The case it opened carries the evidence bundle: incident, findings, verification, report.
    page = _text(pages.get("chair", "case", Case.objects.get(verification=on_page).pk))
    assert f'href="/incidents/{assault.pk}/"' in page and f'href="/verification/{on_page.pk}/"' in page
    assert "Finding #" in page and "Report #" in page and "craters" in page


def test_forms_are_shown_only_to_those_who_may_take_the_step_now(pages, people, received):
    page = _text(pages.get("analyst2", "verification", received.pk))
    assert ">Admit<" in page and ">Dismiss<" in page and ">Take the lock<" in page
    assert "Task the team" not in page and "Conclude<" not in page
    for who in ("monitor", "commissioner", "delegate"):
        page = _text(pages.get(who, "verification", received.pk))
        assert ">Admit<" not in page and "Take the lock" not in page, who
    services.review(people["analyst2"], received, True)
    page = _text(pages.get("analyst2", "verification", received.pk))
    assert 'for="task-team">Team<' in page and 'for="task-team_lead">Team lead<' in page and 'for="task-deadline">Deadline (UTC)<' in page
    assert 'value="monitor-user"' in page and 'value="analyst-3"' not in page  # only monitors lead teams
    services.task(people["analyst2"], received, "MVT Alpha", people["monitor"], _in(24))
    page = _text(pages.get("monitor", "verification", received.pk))
    assert ">Submit the report<" in page and 'for="report-findings">Findings<' in page and "Record the denial of access" in page
    assert ">Submit the report<" not in _text(pages.get("analyst2", "verification", received.pk))


def test_a_team_lead_who_may_not_read_the_item_is_not_offered(pages, people, received):
    Verification.objects.filter(pk=received.pk).update(classification=Classification.CONFIDENTIAL)
    services.review(people["analyst2"], Verification.objects.get(pk=received.pk), True)
    page = _text(pages.get("analyst2", "verification", received.pk))
    assert 'value="monitor-2"' in page and 'value="monitor-user"' not in page  # RESTRICTED clearance


def test_the_two_person_rule_refusal_is_a_message(pages, people, reported):
    before = _mark()
    r = pages.step("analyst2", reported, "conclude", follow=True, outcome="verified")  # analyst-2 reviewed it
    assert r.status_code == 200 and r.redirect_chain[-1][0] == reverse("verification", args=[reported.pk])
    assert "two-person rule: you reviewed this item" in _text(r) and 'class="error"' in _text(r)
    r = pages.step("analyst", reported, "conclude", follow=True, outcome="verified")  # analyst recorded it
    assert "two-person rule: you reported this item" in _text(r)
    assert Verification.objects.get(pk=reported.pk).state == "reported" and _entries(before) == []


def test_someone_elses_lock_is_shown_and_refuses_the_review(pages, people, received):
    services.take_lock(people["analyst2"], received)
    r = pages.get("analyst3", "verification", received.pk)
    assert "being reviewed by analyst-2 until" in _text(r) and "Take the lock" not in _text(r)
    r = pages.step("analyst3", received, "review", follow=True, admissible="admit")
    assert "being reviewed by analyst-2" in _text(r).split('class="messages"')[1]
    assert Verification.objects.get(pk=received.pk).state == "received"
    r = pages.step("analyst3", received, "unlock", follow=True)
    assert "you do not hold the lock" in _text(r)
    assert ">Release the lock<" in _text(pages.get("analyst2", "verification", received.pk))


def test_a_step_the_state_does_not_allow_is_a_message_naming_the_state(pages, received):
    r = pages.step("monitor", received, "report", follow=True, findings="found")
    assert r.status_code == 200 and "verification is &#x27;received&#x27;: cannot &#x27;report&#x27;" in _text(r)
    assert Verification.objects.get(pk=received.pk).state == "received"


def test_steps_need_the_role_a_post_and_a_known_step(pages, received):
    before = _mark()
    assert pages.step("commissioner", received, "review", admissible="admit").status_code == 403
    assert pages.step("analyst", received, "report", findings="x").status_code == 403  # analysts do not investigate
    assert pages.step("analyst", received, "nonsense").status_code == 404
    assert pages.as_("analyst").get(reverse("verification-step", args=[received.pk, "review"])).status_code == 405
    assert Verification.objects.get(pk=received.pk).state == "received" and _entries(before) == []


@pytest.mark.parametrize(
    ("data", "field", "label"),
    [
        ({"team": "MVT Alpha", "team_lead": "monitor-user", "deadline": "tomorrow"}, "deadline", "Deadline (UTC)"),
        ({"team": "MVT Alpha", "team_lead": "monitor-user", "deadline": "2020-01-01T10:00"}, "deadline", "Deadline (UTC)"),  # the service: in the past
        ({"team": "MVT Alpha", "team_lead": "nobody-here", "deadline": "+24"}, "team_lead", "Team lead"),
        ({"team": "MVT Alpha", "team_lead": "analyst-3", "deadline": "+24"}, "team_lead", "Team lead"),  # the service: not a monitor
        ({"team": " ", "team_lead": "monitor-user", "deadline": "+24"}, "team", "Team"),
        ({"team": "x" * 101, "team_lead": "monitor-user", "deadline": "+24"}, "team", "Team"),
        ({"team": "MVT Alpha", "deadline": "+24"}, "team_lead", "Team lead"),
    ],
)
def test_malformed_tasking_names_the_field_and_changes_nothing(pages, people, received, data, field, label):
    services.review(people["analyst2"], received, True)
    data = {k: (_local(_in(24)) if v == "+24" else v) for k, v in data.items()}
    before = _mark()
    r = pages.step("analyst2", received, "task", **data)
    page = _text(r)
    assert r.status_code == 422
    assert f'id="err-task-{field}"' in page and f"<li>{label}: " in page
    assert Verification.objects.get(pk=received.pk).state == "reviewed" and _entries(before) == []
    if data.get("team", "").strip():
        assert f'value="{data["team"]}"' in page  # what was typed is kept


@pytest.mark.parametrize(
    ("step", "data", "field"),
    [
        ("deny", {"lat": "north", "lon": "36.3"}, "lat"),
        ("deny", {"lat": "48.2", "lon": "361"}, "lon"),
        ("deny", {"lat": "48.2", "lon": "36.3", "denied_by": "XXX"}, "denied_by"),
        ("deny", {"lat": "48.2", "lon": "36.3", "at": "2999-01-01T00:00"}, "at"),
        ("deny", {"lat": "48.2", "lon": "36.3", "at": "0001-01-01T00:00+01:00"}, "at"),
        ("report", {"findings": ""}, "findings"),
        ("report", {"findings": "x", "recommendation": "maybe"}, "recommendation"),
        ("report", {"findings": "x", "evidence": "not-a-hash photo"}, "evidence"),
        ("report", {"findings": "nul \x00 byte"}, "findings"),
    ],
)
def test_malformed_reports_and_denials_name_the_field(pages, people, received, step, data, field):
    services.review(people["analyst2"], received, True)
    services.task(people["analyst2"], received, "MVT Alpha", people["monitor"], _in(24))
    before = _mark()
    r = pages.step("monitor", received, step, **data)
    assert r.status_code == 422 and f'id="err-{step}-{field}"' in _text(r)
    assert Verification.objects.get(pk=received.pk).state == "tasked" and _entries(before) == []


def test_a_conclusion_without_outcome_names_the_field(pages, reported):
    r = pages.step("analyst3", reported, "conclude", outcome="", note="n")
    assert r.status_code == 422 and 'id="err-conclude-outcome"' in _text(r) and "<li>Outcome: " in _text(r)


def test_a_report_keeps_its_evidence_hashes(pages, people, received):
    services.review(people["analyst2"], received, True)
    services.task(people["analyst2"], received, "MVT Alpha", people["monitor"], _in(24))
    digest = "ab" * 32
    r = pages.step("monitor", received, "report", findings="found", evidence=f"{digest.upper()} crater photo\n\n", photos=f"{digest}")
    assert r.status_code == 302
    report = Verification.objects.get(pk=received.pk).reports.get()
    assert report.evidence == [{"sha256": digest, "description": "crater photo"}] and report.photos == [{"sha256": digest, "caption": ""}]


# -- opening a verification -------------------------------------------------------------------


def test_opening_a_verification_from_the_incident_page(pages, api, people, tokens_of, assault):
    token = tokens_of("monitor")
    before = _mark()
    r = pages.as_("monitor").post(reverse("verification-open"), {"incident": assault.pk, "allegation": "shelling reported by a party"})
    v = Verification.objects.get(allegation="shelling reported by a party")
    assert r.status_code == 302 and r["Location"] == reverse("verification", args=[v.pk])
    assert (v.incident, v.allegation_source, v.alleged_by) == (assault, "mission", people["monitor"])
    written = _entries(before)
    mid = _mark()
    assert api.post("/api/v1/verifications", {"allegation": "same", "incident_id": assault.pk}, token).status_code == 201
    assert [e.action for e in written] == ["verification.open"]
    assert _comparable(written) == _comparable(_entries(mid))  # as the API writes it


def test_opening_a_verification_refuses_bad_input_by_field(pages, people, assault):
    count = Verification.objects.count()
    r = pages.as_("analyst").post(reverse("verification-open"), {"incident": "12a", "allegation": "x"}, follow=True)
    assert r.redirect_chain[-1][0] == reverse("review-queue") and "Incident number: " in _text(r)
    r = pages.as_("analyst").post(reverse("verification-open"), {"incident": assault.pk, "allegation": "  "}, follow=True)
    assert r.redirect_chain[-1][0] == reverse("incident", args=[assault.pk]) and "Allegation: This field is required." in _text(r)
    assert Verification.objects.count() == count


def test_opening_a_verification_on_an_invisible_incident_is_a_404(pages, people, assault):
    from resolute.monitoring.models import Incident

    Incident.objects.filter(pk=assault.pk).update(classification=Classification.SECRET)
    assert pages.as_("analyst").post(reverse("verification-open"), {"incident": assault.pk, "allegation": "x"}).status_code == 404  # CONFIDENTIAL
    assert pages.as_("commissioner").post(reverse("verification-open"), {"incident": assault.pk, "allegation": "x"}).status_code == 403  # role
    assert not Verification.objects.exists()


def test_the_queue_records_an_allegation_without_an_incident(pages, people):
    r = pages.as_("analyst").post(reverse("verification-open"), {"incident": "", "allegation": "public report of shelling", "source": "public"})
    v = Verification.objects.get()
    assert r["Location"] == reverse("verification", args=[v.pk]) and (v.incident, v.allegation_source) == (None, "public")


# -- the Commission ---------------------------------------------------------------------------


def test_the_case_forms_take_the_steps_and_audit_them_as_the_api_does(pages, api, people, tokens_of, assault):
    deadline = _in(48)
    start = _mark()
    r = pages.as_("delegate").post(reverse("case-refer"), {"title": "assault at the line", "incident_ids": f"{assault.pk}", "note": "DEU refers"})
    on_page = Case.objects.get(referred_by="DEU", title="assault at the line")
    assert r.status_code == 302 and r["Location"] == reverse("case", args=[on_page.pk])
    mid = _mark()
    assert api.post("/api/v1/cases", {"title": "assault at the line", "incident_ids": [assault.pk], "note": "DEU refers"}, tokens_of("delegate")).status_code == 201
    by_api = Case.objects.exclude(pk=on_page.pk).get()
    assert _comparable(_entries(start, "case", on_page.number)) == _comparable(_entries(mid, "case", by_api.number))

    def both(who, step, page_data, path, body):
        token = tokens_of(who)  # issuing a token is audited too: before the marks
        before = _mark()
        r = pages.case_step(who, on_page, step, **page_data)
        assert r.status_code == 302 and r["Location"] == reverse("case", args=[on_page.pk]), (step, r.content[:800])
        written = _entries(before)
        mid = _mark()
        r = api.post(f"/api/v1/cases/{by_api.pk}/{path}", body, token)
        assert r.status_code in (200, 201), (step, r.content)
        # the same entries, one per step (two when a vote closes with a decision)
        assert written and _comparable(written) == _comparable(_entries(mid)), step

    both("chair", "evidence", {"incident_id": str(assault.pk), "note": "again"}, "evidence", {"incident_id": assault.pk, "note": "again"})
    both("chair", "invite", {"deadline": _local(deadline)}, "invite", {"deadline": deadline.isoformat()})
    both("chair", "response", {"party": "UKR", "text": "not us"}, "responses", {"party": "UKR", "text": "not us"})
    both("chair", "response", {"party": "RUS", "text": "not us either"}, "responses", {"party": "RUS", "text": "not us either"})
    both("comm-GBR", "note", {"text": "the craters point east"}, "notes", {"text": "the craters point east"})
    both("chair", "deliberation", {}, "deliberation", {})
    both("chair", "propose", {"attribution": "UKR", "breach_class": "serious", "measures": ["demarche", "public_statement"], "rationale": "reasons"}, "proposals", {"attribution": "UKR", "breach_class": "serious", "measures": ["demarche", "public_statement"], "rationale": "reasons"})
    for who, choice in (("chair", "yes"), ("comm-GBR", "yes"), ("comm-FRA", "yes"), ("comm-POL", "no")):
        opinion = "insufficient evidence" if choice == "no" else ""
        both(who, "vote", {"choice": choice, "opinion": opinion}, "votes", {"choice": choice, "opinion": opinion})

    page = _text(pages.get("comm-DEU", "case", on_page.pk))
    assert 'aria-label="Yes 3, No 1, Abstain 0, Not voted 1"' in page and "insufficient evidence" in page
    assert "would be adopted if closed now" in page and ">Vote<" in page  # DEU has not voted yet

    before = _mark()
    both("chair", "close", {}, "close", {})
    both("chair", "publish", {}, "publish", {})
    decision = Decision.objects.get(case=on_page)
    twin = Decision.objects.get(case=by_api)
    assert _comparable(_entries(start, "case", on_page.number)) == _comparable(_entries(mid, "case", by_api.number))
    assert _comparable(_entries(before, "decision", decision.pk)) == _comparable(_entries(before, "decision", twin.pk))
    assert [e.action for e in _entries(before, "decision", decision.pk)] == ["decision.adopt", "decision.publish"]
    on_page.refresh_from_db()
    assert on_page.state == "published" and decision.published_at is not None
    assert decision.dissenting == [{"member": "POL", "opinion": "insufficient evidence"}]
    page = _text(pages.get("commissioner", "case", on_page.pk))
    for text in ("Decision", "published", "insufficient evidence", "not us either", "the craters point east", "Decision adopted", "Decision published"):
        assert text in page, text


def test_case_forms_follow_role_and_state(pages, people, referral, voting):
    page = _text(pages.get("chair", "case", referral.pk))
    assert "Close the vote" in page and ">Vote<" in page and "Invite the parties" not in page
    page = _text(pages.get("commissioner", "case", referral.pk))
    assert ">Vote<" in page and 'for="vote-choice">Choice<' in page and 'for="vote-opinion">Opinion<' in page and "Close the vote" not in page
    assert "holds no seat" in _text(pages.get("comm-ITA", "case", referral.pk))
    assert ">Vote<" not in _text(pages.get("delegate", "case", referral.pk))  # delegations do not vote
    services.vote(people["comm-GBR"], voting, "abstain")
    page = _text(pages.get("commissioner", "case", referral.pk))
    assert "GBR has voted: abstain." in page and ">Vote<" not in page


def test_case_steps_outside_the_role_are_refused_and_change_nothing(pages, people, voting):
    before = _mark()
    assert pages.case_step("commissioner", voting, "close").status_code == 403
    assert pages.case_step("delegate", voting, "vote", choice="yes").status_code == 403
    assert pages.case_step("monitor", voting, "vote", choice="yes").status_code == 404  # monitors see no case
    assert pages.case_step("public", voting, "publish").status_code == 404
    assert pages.case_step("chair", voting, "nonsense").status_code == 404
    assert Case.objects.get(pk=voting.pk).state == "voting" and _entries(before) == []
    assert pages.as_("public").post(reverse("case-refer"), {"title": "x"}).status_code == 403
    assert pages.as_("analyst").post(reverse("case-refer"), {"title": "x"}).status_code == 403


def test_refusals_of_the_services_are_messages(pages, people, voting):
    r = pages.case_step("comm-ITA", voting, "vote", follow=True, choice="yes")
    assert "ITA is not a member of the Commission" in _text(r)
    services.vote(people["comm-GBR"], voting, "yes")
    r = pages.case_step("commissioner", voting, "vote", follow=True, choice="no")
    assert "GBR has already voted on proposal 1" in _text(r)
    r = pages.case_step("chair", voting, "close", follow=True)
    assert "no quorum" in _text(r)
    r = pages.case_step("chair", voting, "publish", follow=True)
    assert "no decision to publish" in _text(r)
    assert Case.objects.get(pk=voting.pk).state == "voting"


def test_deliberation_waits_for_the_parties(pages, people, referral):
    services.invite_parties(people["chair"], referral, _in(24))
    row = _text(pages.get("commissioner", "commission")).split(referral.number)[1].split("</tr>")[0]
    assert "awaiting responses" in row and 'class="clock"' in row and "h left" in row
    r = pages.case_step("chair", referral, "deliberation", follow=True)
    assert "the parties have until" in _text(r) and Case.objects.get(pk=referral.pk).state == "awaiting_responses"


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({"title": "x", "incident_ids": "12a"}, {"incident_ids"}),
        ({"title": "x", "incident_ids": "999999999"}, {"incident_ids"}),
        ({"title": "", "incident_ids": ""}, {"title"}),
        ({"title": "x" * 301}, {"title"}),
    ],
)
def test_malformed_referrals_name_the_field_and_open_nothing(pages, people, data, fields):
    r = pages.as_("delegate").post(reverse("case-refer"), data)
    page = _text(r)
    assert r.status_code == 422 and all(f'id="err-refer-{f}"' in page for f in fields)
    assert not Case.objects.exists()


def test_a_referral_of_an_invisible_incident_is_named_not_revealed(pages, people, assault):
    from resolute.monitoring.models import Incident

    Incident.objects.filter(pk=assault.pk).update(releasable_to="|USA|")
    r = pages.as_("delegate").post(reverse("case-refer"), {"title": "x", "incident_ids": str(assault.pk)})
    assert r.status_code == 422 and f"{assault.pk} does not exist or is not visible to you" in _text(r)
    assert not Case.objects.exists()


@pytest.mark.parametrize(
    ("step", "data", "fields"),
    [
        ("invite", {"deadline": "next week"}, {"deadline"}),
        ("invite", {"deadline": "2020-01-01T00:00"}, {"deadline"}),
        ("invite", {}, {"deadline"}),
        ("evidence", {"incident_id": "abc"}, {"incident_id"}),
        ("evidence", {"finding_id": "-3"}, {"finding_id"}),
        ("evidence", {}, {"evidence"}),  # the service: exactly one item
        ("note", {"text": " "}, {"text"}),
    ],
)
def test_malformed_case_steps_name_the_field_and_change_nothing(pages, people, referral, step, data, fields):
    before = _mark()
    r = pages.case_step("chair", referral, step, **data)
    page = _text(r)
    assert r.status_code == 422, page[:500]
    for f in fields:
        assert f'id="err-{step}-{f}"' in page, f
    assert Case.objects.get(pk=referral.pk).state == "open" and _entries(before) == []


def test_a_malformed_proposal_names_every_field_and_keeps_the_typing(pages, people, voting):
    # back to deliberation: reject the open proposal
    for who in ("chair", "comm-GBR", "comm-FRA", "comm-POL"):
        services.vote(people[who], voting, "no")
    services.close_vote(people["chair"], voting)
    before = _mark()
    r = pages.case_step("chair", voting, "propose", attribution="", breach_class="armed_attack", measures=["demarche", "bombing"], rationale=" ")
    page = _text(r)
    assert r.status_code == 422
    for f in ("attribution", "measures", "rationale"):
        assert f'id="err-propose-{f}"' in page, f
    assert 'value="demarche" checked' in page and 'value="armed_attack" selected' in page
    r = pages.case_step("chair", voting, "propose", attribution="", breach_class="armed_attack", measures=["demarche"], rationale=" ")
    assert "<li>Attribution: " in _text(r) and "<li>Rationale: " in _text(r)
    assert Case.objects.get(pk=voting.pk).state == "deliberation" and _entries(before) == []


def test_a_vote_without_a_choice_names_the_field(pages, voting):
    r = pages.case_step("commissioner", voting, "vote", choice="maybe", opinion="kept")
    assert r.status_code == 422 and 'id="err-vote-choice"' in _text(r) and ">kept</textarea>" in _text(r)
    assert not voting.proposals.get().votes.exists()


def test_an_armed_attack_decision_shows_its_pending_activation(pages, people, voting):
    voting.proposals.update(breach_class="armed_attack", measures=["playbook_referral"])
    for who in ("chair", "comm-GBR", "comm-FRA", "comm-POL"):
        services.vote(people[who], voting, "yes")
    r = pages.case_step("chair", voting, "close", follow=True)
    assert "The proposal is adopted" in _text(r) and "pending: waiting for the guarantee playbook" in _text(r)


# -- the pages keep to the content security policy ---------------------------------------------


def test_no_inline_script_or_event_handler(pages, people, reported, voting):
    for who, name, pk in (("analyst3", "verification", reported.pk), ("chair", "case", voting.pk), ("analyst", "review-queue", None), ("delegate", "commission", None)):
        html = pages.get(who, name, *([pk] if pk else [])).content.decode()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), name
        assert not re.search(r"\son[a-z]+\s*=", html), name


def test_a_vote_that_cannot_be_counted_is_a_conflict_not_a_server_error(api, people, tokens_of, voting):
    from resolute.commission.models import CommissionSeat

    CommissionSeat.objects.all().delete()  # an administrator dissolved the seats while the vote was open
    r = api.post(f"/api/v1/cases/{voting.pk}/close", {}, tokens_of("chair"))
    assert r.status_code == 409 and "seats" in r.content.decode()
    assert Case.objects.get(pk=voting.pk).state == "voting"


def test_nul_characters_in_free_text_are_refused_by_name(api, people, tokens_of, referral):
    r = api.post(f"/api/v1/cases/{referral.pk}/notes", {"text": "a\x00b"}, tokens_of("chair"))
    assert r.status_code == 422 and "text" in r.content.decode()

"""Verification and the Commission in a real browser: an analyst reviews and tasks, the team
reports, a second analyst concludes; commissioners vote and the chair records the decision."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.agreement.conftest import agreement_v1  # noqa: F401  (fixture)
from tests.browser.conftest import PASSWORD
from tests.commission.conftest import assault, people  # noqa: F401  (fixtures)
from tests.commission.test_views import received, referral, voting  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.django_db(transaction=True)]


def _passwords(people, *keys):
    from resolute.accounts import services as accounts

    for k in keys:
        accounts.set_password("test", people[k], PASSWORD)


def test_an_analyst_tasks_a_team_which_reports_and_another_analyst_concludes(tab, people, received):
    from resolute.commission.models import Verification

    _passwords(people, "analyst2", "monitor", "analyst3")
    analyst = tab().login("analyst-2")
    analyst.page.get_by_role("link", name="Review queue").click()
    analyst.page.get_by_role("link", name=str(received.pk), exact=True).first.click()
    p = analyst.page
    p.get_by_role("button", name="Admit").click()
    p.wait_for_load_state()
    p.get_by_label("Team", exact=True).fill("MVT Alpha")
    p.get_by_label("Team lead").select_option("monitor-user")
    p.get_by_label("Deadline (UTC)").fill((dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"))
    p.get_by_role("button", name="Task the team").click()
    p.wait_for_load_state()
    analyst.shot("tasked")
    assert Verification.objects.get(pk=received.pk).state == "tasked"

    team = tab().login("monitor-user")
    team.go(f"/verification/{received.pk}/")
    team.page.get_by_label("Findings").fill("Three fresh craters 40 m apart; fragments of 122 mm rockets.")
    team.page.get_by_role("button", name="Submit the report").click()
    team.page.wait_for_load_state()
    team.shot("reported")
    assert Verification.objects.get(pk=received.pk).state == "reported"

    second = tab().login("analyst-3")
    second.go(f"/verification/{received.pk}/")
    second.page.get_by_label("Outcome").select_option("verified")
    second.page.get_by_role("button", name="Conclude").click()
    second.page.wait_for_load_state()
    second.shot("concluded")
    assert Verification.objects.get(pk=received.pk).state == "verified"


def test_the_commission_votes_and_the_chair_records_the_decision(tab, people, voting):
    from resolute.commission.models import Case, Decision

    _passwords(people, "chair", "comm-GBR", "comm-FRA", "comm-DEU", "comm-POL")
    for username in ("commissioner-user", "commissioner-fra", "commissioner-deu", "commissioner-pol"):
        member = tab().login(username)
        member.go(f"/commission/cases/{voting.pk}/")
        member.page.get_by_label("Choice").select_option("yes")
        member.page.get_by_label("Opinion").fill(f"{username} agrees")
        member.page.get_by_role("button", name="Vote", exact=True).click()
        member.page.wait_for_load_state()
    member.shot("voted")
    chair = tab().login("chair-user")
    chair.go(f"/commission/cases/{voting.pk}/")
    chair.page.get_by_role("button", name="Close the vote").click()
    chair.page.wait_for_load_state()
    chair.page.get_by_role("button", name="Publish the decision").click()
    chair.page.wait_for_load_state()
    chair.shot("published")
    assert Case.objects.get(pk=voting.pk).state == "published"
    assert Decision.objects.get(case=voting).published_at is not None


def test_the_review_queue_refreshes_itself_without_a_reload(tab, people, assault):
    from resolute.commission import services

    _passwords(people, "analyst2")
    s = tab().login("analyst-2")
    s.go("/verification/")
    s.page.evaluate("() => { window.notReloaded = true; }")
    first = services.open_verification(people["analyst"], "shelling of the water station", "party", assault)
    s.page.evaluate("() => document.getElementById('queue-items').dispatchEvent(new Event('resolute:refresh'))")
    s.page.wait_for_selector(f"#queue-items a[href='/verification/{first.pk}/']", timeout=10_000)
    assert s.page.evaluate("() => window.notReloaded") is True  # the section changed, not the page

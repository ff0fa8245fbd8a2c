"""The main journeys through the web application, in a real browser."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from resolute.core.markings import Classification

pytestmark = [pytest.mark.django_db(transaction=True)]


def incident(lat, lon, *, cls=Classification.PUBLIC, tlp="CLEAR", rel="|ALL|", origin="RUS", hours_ago=3, **over):
    from resolute.monitoring.models import Incident

    now = dt.datetime.now(dt.timezone.utc)
    fields = dict(
        event_type="explosion_impact", status="open", first_seen=now - dt.timedelta(hours=hours_ago), last_seen=now - dt.timedelta(hours=hours_ago - 1),
        lat=lat, lon=lon, fix_ok=True, error_m=600.0, semi_major_m=600.0, semi_minor_m=250.0, orientation_deg=40.0,
        confidence=0.93, confidence_word="very likely", observation_count=2, origin_side=origin, attribution_kind="cross_line",
        classification=cls, tlp=tlp, releasable_to=rel, originator="USA",
    )  # fmt: skip
    fields.update(over)
    return Incident.objects.create(**fields)


@pytest.fixture
def world(users):
    public = [incident(48.0 + k * 0.05, 37.6 + k * 0.04) for k in range(6)]
    usa_only = incident(48.3, 37.9, cls=Classification.SECRET, tlp="AMBER", rel="|USA|")
    return {"public": public, "usa_only": usa_only}


def _ready(page):
    page.wait_for_selector("#map[data-state='ready']", timeout=15_000)
    return page.locator("#map")


def test_situation_map_shows_what_each_reader_may_see_offline(tab, world):
    anonymous = tab()
    anonymous.go("/")
    m = _ready(anonymous.page)
    assert m.get_attribute("data-mode") == "incidents"
    assert m.get_attribute("data-total") == "6"
    anonymous.page.wait_for_selector("#map[data-layers='ready']")
    anonymous.shot("public")

    chair = tab().login("chair-user")  # USA, SECRET: also the USA-only incident
    chair.go("/")
    assert _ready(chair.page).get_attribute("data-total") == "7"
    # Click the incident on the map; its popup links to the incident page.
    target = world["public"][0]
    point = chair.page.evaluate(
        "([lat, lon]) => { const m = document.getElementById('map').leafletMap; m.setView([lat, lon], 13, {animate: false}); const p = m.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
        [target.lat, target.lon],
    )
    _ready(chair.page)
    chair.page.locator("#map").click(position={"x": point[0], "y": point[1]})
    chair.page.get_by_role("link", name=re.compile(r"Open incident")).click()
    chair.page.wait_for_selector("#incident-map[data-state='ready']")
    assert f"Incident #{target.pk}" in chair.page.locator("h1").inner_text()
    chair.shot("incident")


def test_many_incidents_arrive_as_grid_cells_until_zoomed_in(tab, world, settings):
    settings.MAP_MAX_FEATURES = 3
    s = tab()
    s.go("/")
    m = _ready(s.page)
    assert m.get_attribute("data-mode") == "grid"
    assert int(m.get_attribute("data-drawn")) < 6 and m.get_attribute("data-total") == "6"
    s.shot("grid")
    s.page.evaluate("() => document.getElementById('map').leafletMap.setView([48.0, 37.6], 14, {animate: false})")
    s.page.wait_for_function("() => document.getElementById('map').dataset.mode === 'incidents'")
    assert int(m.get_attribute("data-total")) <= 3


def test_a_monitor_files_an_observation(tab, users, source):
    from resolute.monitoring.models import Observation

    s = tab().login("monitor-user")
    s.page.get_by_role("link", name="Report an observation").click()
    p = s.page
    p.fill("#observer_lat", "48.1201")
    p.fill("#observer_lon", "37.7302")
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=30)
    p.fill("#observed_from", now.strftime("%Y-%m-%dT%H:%M"))
    p.fill("#observed_to", (now + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M"))
    p.select_option("#event_type", "explosion_impact")
    p.select_option("#perception", "heard")
    p.fill("#count", "4")
    p.select_option("#compass_sector", "NE")
    p.select_option("#range_band", "2000-5000")
    p.fill("#narrative", "Four impacts heard to the north-east.")
    s.shot("form")
    p.get_by_role("button", name="Record the observation").click()
    p.wait_for_load_state()
    assert "Observation recorded" in p.get_by_role("status").inner_text()
    s.shot("recorded")
    o = Observation.objects.get(narrative="Four impacts heard to the north-east.")
    assert (o.intake, o.count, o.compass_sector, o.range_min_m, o.range_max_m) == ("web", 4, "NE", 2000.0, 5000.0)
    assert o.submitted_by.username == "monitor-user" and o.originator == "FRA"


def test_the_form_names_the_field_that_is_wrong_and_records_nothing(tab, users):
    from resolute.monitoring.models import Observation

    s = tab().login("monitor-user")
    s.go("/observations/new/")
    s.page.fill("#observer_lat", "123")  # beyond 90
    s.page.fill("#observer_lon", "37.7")
    s.page.select_option("#compass_sector", "N")
    s.page.get_by_role("button", name="Record the observation").click()
    s.page.wait_for_load_state()
    assert s.page.get_by_role("alert").is_visible()
    assert "90" in s.page.locator("#err-observer_lat").inner_text()
    assert Observation.objects.count() == 0
    s.shot("refused")


def test_a_delegate_cannot_open_a_record_not_releasable_to_their_nation(tab, world):
    s = tab().login("delegate-user")  # DEU
    r = s.go(f"/incidents/{world['usa_only'].pk}/")
    assert r.status == 404
    s.shot("not-found")
    r = s.go(f"/incidents/{world['public'][0].pk}/")
    assert r.status == 200


def test_the_language_switch_to_ukrainian_stays_with_the_person(tab, users, world):
    from resolute.accounts.models import User

    s = tab().login("analyst-user")
    s.page.get_by_label("Language").select_option("uk")
    s.page.wait_for_selector("html[lang='uk']")
    assert "Ситуаційна карта" in s.page.locator("nav.main").inner_text()
    s.shot("ukrainian")
    assert User.objects.get(username="analyst-user").language == "uk"
    # Another device, same person: the language follows the account, not the browser.
    other = tab().login("analyst-user")
    other.go("/dashboard/")
    assert other.page.locator("html").get_attribute("lang") == "uk"


def test_incidents_in_view_are_also_a_keyboard_reachable_list(tab, world):
    s = tab()
    s.go("/")
    _ready(s.page)
    s.page.locator("#incident-list-box summary").focus()
    s.page.keyboard.press("Enter")
    links = s.page.locator("#incident-list a")
    assert links.count() == 6
    links.first.focus()
    s.page.keyboard.press("Enter")
    s.page.wait_for_selector("#incident-map[data-state='ready']")

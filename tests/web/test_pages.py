"""The web pages of element 1 and the frame around every page: access per role, markings,
language, the security headers."""

from __future__ import annotations

import datetime as dt

import pytest

from resolute.core.markings import Classification

pytestmark = [pytest.mark.django_db]


def incident(secret=False):
    from resolute.monitoring.models import Incident

    now = dt.datetime.now(dt.timezone.utc)
    return Incident.objects.create(
        event_type="explosion_impact", status="open", first_seen=now - dt.timedelta(hours=3), last_seen=now - dt.timedelta(hours=2),
        lat=48.0, lon=37.6, fix_ok=True, error_m=500.0, confidence=0.9, observation_count=1,
        classification=Classification.SECRET if secret else Classification.PUBLIC, tlp="AMBER" if secret else "CLEAR",
        releasable_to="|USA|" if secret else "|ALL|", originator="USA",
    )  # fmt: skip


def test_the_map_is_the_home_page_for_everyone_and_loads_nothing_from_outside(client):
    r = client.get("/")
    assert r.status_code == 200
    csp = r["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    page = r.content.decode()
    assert "/static/leaflet/leaflet.js" in page and "http://" not in page.replace('http://www.w3.org', '') and "https://" not in page
    assert "<script>" not in page  # no inline script: data travels as application/json


@pytest.mark.parametrize("role,status", [("analyst", 200), ("chair", 200), ("delegate", 200), ("public", 404)])
def test_an_incident_page_shows_only_what_the_reader_may_see(client, users, role, status):
    secret = incident(secret=True)  # SECRET REL USA
    client.force_login(users[role])
    r = client.get(f"/incidents/{secret.pk}/")
    assert r.status_code == {"chair": 200}.get(role, 404)
    open_one = incident()
    assert client.get(f"/incidents/{open_one.pk}/").status_code == 200


@pytest.mark.parametrize("role,allowed", [("monitor", True), ("analyst", True), ("administrator", True), ("commissioner", False), ("ledger_officer", False), ("public", False)])
def test_only_roles_that_file_observations_get_the_form(client, users, role, allowed):
    client.force_login(users[role])
    r = client.get("/observations/new/")
    assert r.status_code == (200 if allowed else 403)
    assert ("Report an observation" in client.get("/").content.decode()) == allowed


def test_anonymous_people_are_sent_to_sign_in(client):
    r = client.get("/observations/new/")
    assert r.status_code == 302 and r["Location"].startswith("/accounts/login/")
    assert client.get("/dashboard/").status_code == 302


def test_the_dashboard_counts_only_visible_incidents(client, users):
    incident(), incident(), incident(secret=True)
    client.force_login(users["analyst"])  # POL, CONFIDENTIAL: not the secret one
    r = client.get("/dashboard/")
    assert r.status_code == 200
    by_type = r.context["by_type"]
    assert by_type and by_type[0]["count"] + by_type[0]["previous"] == 2
    client.force_login(users["chair"])
    assert sum(x["count"] + x["previous"] for x in client.get("/dashboard/").context["by_type"]) == 3


def test_language_is_kept_on_the_account_and_audited(client, users):
    from resolute.audit.models import AuditEntry

    client.force_login(users["monitor"])
    r = client.post("/language/", {"language": "fr", "next": "/dashboard/"})
    assert r.status_code == 302 and r["Location"] == "/dashboard/"
    users["monitor"].refresh_from_db()
    assert users["monitor"].language == "fr"
    assert AuditEntry.objects.filter(action="user.set_language").count() == 1
    assert client.get("/").headers["Content-Language"] == "fr"
    # An outside redirect target is not followed; an unknown language changes nothing.
    assert client.post("/language/", {"language": "xx", "next": "https://evil.example/"})["Location"] == "/"
    users["monitor"].refresh_from_db()
    assert users["monitor"].language == "fr"


def test_a_head_response_leaves_no_body_for_the_server_to_send(rf):
    # Django's test client drops HEAD bodies itself, so the middleware is called directly: it is
    # what keeps waitress from sending one (ODK Collect's keep-alive HEAD, see middleware.py).
    from django.http import HttpResponse

    from resolute.web.middleware import HeadWithoutBodyMiddleware

    mw = HeadWithoutBodyMiddleware(lambda request: HttpResponse(b"<xml/>", status=401))
    head = mw(rf.head("/openrosa/submission"))
    assert head.content == b"" and "Content-Length" not in head
    assert mw(rf.get("/openrosa/submission")).content == b"<xml/>"


def test_a_photo_filed_with_an_observation_is_kept_under_its_sha256(client, users, settings, tmp_path):
    import hashlib

    from django.core.files.uploadedfile import SimpleUploadedFile

    from resolute.monitoring.models import Observation

    settings.DATA_DIR = tmp_path
    client.force_login(users["monitor"])
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)
    photo = b"\xff\xd8\xff\xe0 crater photo \xff\xd9"
    form = {
        "observer_lat": "48.12", "observer_lon": "37.73", "observed_from": now.strftime("%Y-%m-%dT%H:%M"),
        "observed_to": (now + dt.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M"), "event_type": "explosion_impact",
        "perception": "seen", "count": "1", "where": "point", "event_lat": "48.13", "event_lon": "37.75", "event_error_m": "300",
        "narrative": "crater", "classification": "RESTRICTED", "tlp": "AMBER", "releasable_to": "ALL",
        "client_id": "6f1c2b0e-0000-4000-8000-000000000001",  # the form's hidden id, fixed when it was opened
    }  # fmt: skip
    r = client.post("/observations/new/", {**form, "attachments": [SimpleUploadedFile("crater.jpg", photo, "image/jpeg")]})
    assert r.status_code == 302
    digest = hashlib.sha256(photo).hexdigest()
    o = Observation.objects.get(narrative="crater")
    assert o.attachments == [digest] and (o.event_lat, o.event_lon) == (48.13, 37.75)
    assert (tmp_path / "attachments" / digest[:2] / digest).read_bytes() == photo
    # The same form sent again (a double tap, a retry on a bad link) records nothing new.
    again = client.post("/observations/new/", {**form, "attachments": [SimpleUploadedFile("crater.jpg", photo, "image/jpeg")]})
    assert again.status_code == 302 and Observation.objects.filter(narrative="crater").count() == 1


@pytest.mark.parametrize("field,value", [("count", "three"), ("count", "0"), ("observer_lat", "north"), ("observed_from", "yesterday"), ("releasable_to", "france")])
def test_a_wrong_field_in_the_form_is_named_and_nothing_is_recorded(client, users, field, value):
    from resolute.monitoring.models import Observation

    client.force_login(users["monitor"])
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=20)
    form = {
        "observer_lat": "48.12", "observer_lon": "37.73", "observed_from": now.strftime("%Y-%m-%dT%H:%M"),
        "observed_to": (now + dt.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M"), "event_type": "explosion_impact",
        "perception": "heard", "count": "3", "compass_sector": "NE", "releasable_to": "ALL",
    }  # fmt: skip
    r = client.post("/observations/new/", {**form, field: value})
    assert r.status_code == 200 and field in r.context["errors"], r.context["errors"]
    assert Observation.objects.count() == 0

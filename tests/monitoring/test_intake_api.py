"""Observation intake through the API: idempotency, conflicts, all-or-nothing, problem documents."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from resolute.audit.models import AuditEntry
from resolute.monitoring.models import Observation
from tests.conftest import observation

pytestmark = [pytest.mark.django_db(transaction=False), pytest.mark.db_backends]
URL = "/api/v1/observations"


def test_single_observation_is_stored_and_returned_as_a_feature(api, tokens, source):
    r = api.post(URL, observation(), tokens["monitor"])
    assert r.status_code == 201, r.content
    f = r.json()
    assert f["type"] == "Feature" and f["properties"]["event_type"] == "explosion_impact"
    assert f["properties"]["direction"]["compass_sector"] == "SSE"
    # The indicative point lies ~1.5 km south-south-east of the observer.
    lon, lat = f["geometry"]["coordinates"]
    assert 47.58 < lat < 47.595 and 35.80 < lon < 35.81
    assert Observation.objects.count() == 1
    assert AuditEntry.objects.filter(action="observation.submit", batch_count=1).count() == 1


def test_resubmitting_the_same_client_id_is_idempotent(api, tokens, source):
    body = observation()
    first = api.post(URL, body, tokens["monitor"])
    again = api.post(URL, body, tokens["monitor"])
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert Observation.objects.count() == 1
    assert AuditEntry.objects.filter(action="observation.submit").count() == 1


def test_same_client_id_with_different_content_is_a_409(api, tokens, source):
    body = observation()
    api.post(URL, body, tokens["monitor"])
    r = api.post(URL, {**body, "count": 8}, tokens["monitor"])
    assert r.status_code == 409
    assert r["Content-Type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "[0].client_id"
    assert Observation.objects.get().count == 7


def test_bulk_list_is_all_or_nothing(api, tokens, source):
    good = [observation() for _ in range(5)]
    bad = observation(observer={"lat": 95.0, "lon": 35.8, "accuracy_m": 10})
    r = api.post(URL, good[:3] + [bad] + good[3:], tokens["monitor"])
    assert r.status_code == 422
    fields = [e["field"] for e in r.json()["errors"]]
    assert fields == ["[3].observer.lat"]
    assert Observation.objects.count() == 0
    r = api.post(URL, good, tokens["monitor"])
    assert r.status_code == 201 and r.json()["created"] == 5 and len(r.json()["ids"]) == 5
    # one audit entry for the whole batch, hashing each item
    entry = AuditEntry.objects.get(action="observation.submit")
    assert entry.batch_count == 5 and len(entry.batch_sha256) == 64


def test_bulk_mixing_new_and_already_stored_items(api, tokens, source):
    items = [observation() for _ in range(4)]
    api.post(URL, items[:2], tokens["monitor"])
    r = api.post(URL, items, tokens["monitor"])
    assert r.status_code == 201
    assert r.json()["created"] == 2 and r.json()["existing"] == 2
    assert Observation.objects.count() == 4


@pytest.mark.parametrize(
    "change, field",
    [
        ({"observer": {"lat": 47.6, "lon": 181, "accuracy_m": 5}}, "observer.lon"),
        ({"event_type": "picnic"}, "event_type"),
        ({"count": "many"}, "count"),
        ({"count": 0}, "count"),
        ({"grade": "G7"}, "grade"),
        ({"channel": None}, "channel"),
        ({"observed_to": (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)).isoformat()}, "observed_to"),
        ({"observed_from": "2026-01-01T10:00:00"}, "observed_from"),
        ({"direction": {"compass_sector": "XYZ"}}, "direction.compass_sector"),
        ({"direction": {"bearing_deg": 400}}, "direction.bearing_deg"),
        ({"narrative": "bad\x00byte"}, "narrative"),
        ({"unexpected": 1}, "unexpected"),
        ({"marking": {"classification": "TOP", "tlp": "AMBER", "releasable_to": ["ALL"]}}, "marking.classification"),
        ({"marking": {"classification": "SECRET", "tlp": "AMBER", "releasable_to": ["fr"]}}, "marking.releasable_to[0]"),
        ({"source": "NOPE"}, "[0].source"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(api, tokens, source, change, field):
    r = api.post(URL, observation(**change), tokens["monitor"])
    assert r.status_code == 422, r.content
    body = r.json()
    assert r["Content-Type"] == "application/problem+json"
    assert body["status"] == 422 and body["title"]
    assert any(e["field"] == field for e in body["errors"]), body
    assert Observation.objects.count() == 0


@pytest.mark.parametrize(
    "raw, ctype, status",
    [
        ("{not json", "application/json", 422),
        ('{"count": NaN}', "application/json", 422),
        ("[]", "application/json", 422),
        ("42", "application/json", 422),
        ("client_id=1", "application/x-www-form-urlencoded", 415),
        (b"\xff\xfe\x00", "application/json", 422),
    ],
)
def test_malformed_bodies_are_4xx_problems(api, tokens, source, raw, ctype, status):
    r = api.post(URL, raw, tokens["monitor"], content_type=ctype)
    assert r.status_code == status, r.content
    assert r.json()["status"] == status


def test_oversized_body_is_413(api, tokens, source, settings):
    settings.MAX_BODY_BYTES = 2000
    r = api.post(URL, [observation() for _ in range(5)], tokens["monitor"])
    assert r.status_code == 413 and r.json()["status"] == 413
    assert Observation.objects.count() == 0


def test_too_many_items_is_refused(api, tokens, source, settings):
    settings.MAX_BULK_OBSERVATIONS = 3
    r = api.post(URL, [observation() for _ in range(4)], tokens["monitor"])
    assert r.status_code == 422 and Observation.objects.count() == 0


def test_writes_need_an_identity_and_a_role(api, tokens, source, users):
    assert api.post(URL, observation()).status_code == 401
    assert api.post(URL, observation(), "rsl_not-a-token").status_code == 401
    assert api.post(URL, observation(), tokens["delegate"]).status_code == 403
    assert api.post(URL, observation(), tokens["public"]).status_code == 403
    assert Observation.objects.count() == 0


def test_read_only_token_cannot_write(api, users, source):
    from resolute.accounts.services import issue_token

    _, secret = issue_token("test", users["monitor"], "ro", ("read",))
    assert api.post(URL, observation(), secret).status_code == 403


def test_revoked_token_is_refused(api, users, source):
    from resolute.accounts.services import issue_token, revoke_token

    token, secret = issue_token("test", users["monitor"], "dev", ("write",))
    assert api.post(URL, observation(), secret).status_code == 201
    revoke_token("test", token.pk)
    assert api.post(URL, observation(), secret).status_code == 401


def test_session_writes_need_csrf(source, users):
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    c.force_login(users["monitor"])
    r = c.post(URL, json.dumps(observation()), content_type="application/json")
    assert r.status_code == 403
    assert Observation.objects.count() == 0


def test_a_write_without_any_credentials_is_401_even_with_csrf_checks(source):
    from django.test import Client

    r = Client(enforce_csrf_checks=True).post(URL, json.dumps(observation()), content_type="application/json")
    assert r.status_code == 401 and r["WWW-Authenticate"].startswith("Bearer")


def test_the_same_item_twice_in_one_list_is_stored_once(api, tokens, source):
    item = observation()
    r = api.post(URL, [item, observation(), item], tokens["monitor"])
    assert r.status_code == 201, r.content
    ids = r.json()["ids"]
    assert ids[0] == ids[2] and r.json()["created"] == 2
    assert Observation.objects.count() == 2


def test_the_same_client_id_twice_in_one_list_with_other_content_is_409(api, tokens, source):
    item = observation()
    r = api.post(URL, [item, {**item, "count": 99}], tokens["monitor"])
    assert r.status_code == 409 and r.json()["errors"][0]["field"] == "[1].client_id"
    assert Observation.objects.count() == 0


def test_the_reply_to_a_single_post_is_exactly_what_was_stored(api, tokens, source):
    body = observation(attachments=["ab" * 32], chain=["OP-UKR-01", "FRA-HQ"])
    created = api.post(URL, body, tokens["monitor"]).json()
    again = api.get(f"{URL}/{created['id']}", tokens["monitor"]).json()
    assert created == again

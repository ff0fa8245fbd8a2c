"""OpenRosa 1.0 (resolute.interop.openrosa) driven the way ODK Collect drives it, over HTTP with
the Django test client: list forms, download the form and its manifest, HEAD the submission
URL, then POST multipart submissions built from the downloaded form's own instance.

What matters: a submission becomes exactly one observation carrying its attachments' SHA-256;
resending is idempotent and a changed form under the same instanceID is refused (409); a
submission split over several POSTs is stored once with every attachment; hostile XML is a 400;
no or bad credentials are a 401 with a challenge.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import uuid
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from resolute.core import vocabulary as v
from resolute.core.geo import COMPASS_16


XF = "http://www.w3.org/2002/xforms"
H = "http://www.w3.org/1999/xhtml"
LIST_NS = "{http://openrosa.org/xforms/xformsList}"
RESPONSE_NS = "{http://openrosa.org/http/response}"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(256)) * 8 + b"\xff\xd9"
JPEG2 = JPEG[:-2] + b"second" + b"\xff\xd9"
OR = {"HTTP_X_OPENROSA_VERSION": "1.0"}


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def basic(username: str, secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode(), **OR}


@pytest.fixture
def monitor(users, tokens):
    return basic(users["monitor"].username, tokens["monitor"])


class Collect:
    """What ODK Collect does, step by step."""

    def __init__(self, client, auth):
        self.c = client
        self.auth = auth
        self.template = None

    def fetch_form(self):
        r = self.c.get("/openrosa/formList", **self.auth)
        assert r.status_code == 200, r.content
        assert r["X-OpenRosa-Version"] == "1.0"
        assert r["Content-Type"].startswith("text/xml")
        forms = ET.fromstring(r.content)
        assert forms.tag == f"{LIST_NS}xforms"
        (entry,) = forms.findall(f"{LIST_NS}xform")
        assert entry.findtext(f"{LIST_NS}formID") == "resolute_observation"
        assert entry.findtext(f"{LIST_NS}version")
        form = self.c.get(urlsplit(entry.findtext(f"{LIST_NS}downloadUrl")).path, **self.auth)
        assert form.status_code == 200 and form["X-OpenRosa-Version"] == "1.0"
        assert entry.findtext(f"{LIST_NS}hash") == "md5:" + hashlib.md5(form.content).hexdigest()
        manifest = self.c.get(urlsplit(entry.findtext(f"{LIST_NS}manifestUrl")).path, **self.auth)
        assert manifest.status_code == 200 and manifest["X-OpenRosa-Version"] == "1.0"
        assert ET.fromstring(manifest.content).tag == "{http://openrosa.org/xforms/xformsManifest}manifest"
        assert len(ET.fromstring(manifest.content)) == 0
        root = ET.fromstring(form.content)
        instance = root.find(f"{{{H}}}head/{{{XF}}}model/{{{XF}}}instance")
        self.template = ET.tostring(next(iter(instance)), encoding="unicode")
        return entry

    def fill(self, instance_id: str, **answers) -> bytes:
        """The filled-in primary instance, as Collect writes it (default namespace removed)."""
        ET.register_namespace("", XF)
        root = ET.fromstring(self.template)
        for el in root.iter():
            el.tag = el.tag.split("}")[-1]
        for name, value in answers.items():
            el = root.find(name)
            assert el is not None, name
            el.text = str(value)
        root.find("meta/instanceID").text = instance_id
        return ET.tostring(root, encoding="utf-8")

    def head(self):
        return self.c.head("/openrosa/submission", **self.auth)

    def post(self, xml: bytes, attachments: dict[str, bytes] | None = None, incomplete: bool = False):
        data = {"xml_submission_file": SimpleUploadedFile("submission.xml", xml, "text/xml")}
        for name, content in (attachments or {}).items():
            data[name] = SimpleUploadedFile(name, content, "image/jpeg")
        if incomplete:
            data["*isIncomplete*"] = "yes"
        return self.c.post("/openrosa/submission", data, **self.auth)


def sector_answers(**over) -> dict:
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=2))).replace(microsecond=0)
    a = {
        "channel": "observation_post",
        "observer": "47.6 35.8 112.0 8.5",
        "observed_from": (now - dt.timedelta(hours=2)).isoformat(timespec="milliseconds"),
        "observed_to": (now - dt.timedelta(hours=1, minutes=50)).isoformat(timespec="milliseconds"),
        "event_type": "explosion_impact",
        "perception": "heard",
        "count": 7,
        "weapon_class": "artillery_100mm_plus",
        "fix": "sector",
        "compass_sector": "SSE",
        "range_band": "r1000_2000",
        "narrative": "heard 7 explosions 1-2 km SSE",
        "photo": "photo.jpg",
    }
    a.update(over)
    return a


def response_message(r) -> str:
    doc = ET.fromstring(r.content)
    assert doc.tag == f"{RESPONSE_NS}OpenRosaResponse"
    return doc.findtext(f"{RESPONSE_NS}message")


def new_instance() -> str:
    return f"uuid:{uuid.uuid4()}"


def test_collect_replay_submit_resubmit_conflict(client, monitor, users):
    from resolute.monitoring.models import Observation

    collect = Collect(client, monitor)
    collect.fetch_form()
    head = collect.head()
    assert head.status_code == 204
    assert head["X-OpenRosa-Version"] == "1.0"
    assert int(head["X-OpenRosa-Accept-Content-Length"]) > 0

    iid = new_instance()
    xml = collect.fill(iid, **sector_answers())
    r = collect.post(xml, {"photo.jpg": JPEG})
    assert r.status_code == 201, r.content
    assert r["X-OpenRosa-Version"] == "1.0"
    assert "received" in response_message(r)

    obs = Observation.objects.get(client_id=uuid.UUID(iid[5:]))
    assert obs.attachments == [hashlib.sha256(JPEG).hexdigest()]
    assert obs.intake == "openrosa"
    assert obs.source.code == "ODK-monitor-user"
    assert (obs.reliability, obs.credibility) == ("B", 2)
    assert obs.chain == ["ODK-monitor-user"]
    assert obs.submitted_by_id == users["monitor"].pk
    assert (obs.channel, obs.event_type, obs.perception, obs.count) == ("observation_post", "explosion_impact", "heard", 7)
    assert (obs.observer_lat, obs.observer_lon, obs.observer_accuracy_m) == (47.6, 35.8, 8.5)
    assert (obs.compass_sector, obs.range_min_m, obs.range_max_m) == ("SSE", 1000, 2000)
    assert obs.event_lat is None
    assert obs.observed_from.utcoffset() == dt.timedelta(0)

    # Collect did not get the answer and sends again: same XML, same photo.
    again = collect.post(xml, {"photo.jpg": JPEG})
    assert again.status_code == 201, again.content
    assert "already received" in response_message(again)
    # A resend carrying only the XML (attachments already accepted) is the same submission too.
    assert collect.post(xml).status_code == 201
    assert Observation.objects.filter(client_id=uuid.UUID(iid[5:])).count() == 1
    assert Observation.objects.count() == 1

    # The same instanceID with other answers: refused, nothing changed.
    changed = collect.fill(iid, **sector_answers(count=8))
    conflict = collect.post(changed, {"photo.jpg": JPEG})
    assert conflict.status_code == 409, conflict.content
    assert conflict["X-OpenRosa-Version"] == "1.0"
    assert Observation.objects.get(client_id=uuid.UUID(iid[5:])).count == 7
    # …and so is another photo under the same instanceID.
    assert collect.post(xml, {"photo.jpg": JPEG2}).status_code == 409


def test_point_fix_becomes_location(client, monitor):
    from resolute.monitoring.models import Observation

    collect = Collect(client, monitor)
    collect.fetch_form()
    iid = new_instance()
    answers = sector_answers(fix="point", event_location="47.58 35.83 0 0", event_error_m="250", compass_sector="", range_band="", photo="")
    r = collect.post(collect.fill(iid, **answers))
    assert r.status_code == 201, r.content
    obs = Observation.objects.get(client_id=uuid.UUID(iid[5:]))
    assert (obs.event_lat, obs.event_lon, obs.event_error_m) == (47.58, 35.83, 250)
    assert obs.compass_sector is None and obs.attachments == []


def test_split_submission_is_stored_once_with_every_attachment(client, monitor, settings):
    from resolute.monitoring.models import Observation

    collect = Collect(client, monitor)
    collect.fetch_form()
    iid = new_instance()
    xml = collect.fill(iid, **sector_answers())
    first = collect.post(xml, {"photo.jpg": JPEG}, incomplete=True)
    assert first.status_code == 201, first.content
    assert not Observation.objects.exists()
    pending = settings.DATA_DIR / "openrosa-pending"
    (held,) = pending.iterdir()
    assert (held / hashlib.sha256(JPEG).hexdigest()).read_bytes() == JPEG

    last = collect.post(xml, {"extra.jpg": JPEG2})
    assert last.status_code == 201, last.content
    obs = Observation.objects.get()
    assert sorted(obs.attachments) == sorted([hashlib.sha256(JPEG).hexdigest(), hashlib.sha256(JPEG2).hexdigest()])
    assert not held.exists()


def test_split_submission_with_other_xml_is_a_conflict(client, monitor):
    collect = Collect(client, monitor)
    collect.fetch_form()
    iid = new_instance()
    assert collect.post(collect.fill(iid, **sector_answers()), {"a.jpg": JPEG}, incomplete=True).status_code == 201
    assert collect.post(collect.fill(iid, **sector_answers(count=2)), {"b.jpg": JPEG2}).status_code == 409


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<data id="resolute_observation"><narrative>&xxe;</narrative><meta><instanceID>uuid:%s</instanceID></meta></data>"""
LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE data [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;">]>
<data id="resolute_observation"><narrative>&e;</narrative><meta><instanceID>uuid:%s</instanceID></meta></data>"""


@pytest.mark.parametrize("doc", [XXE, LAUGHS, b"<data id='resolute_observation'><unclosed></data>"], ids=["xxe", "billion-laughs", "malformed"])
def test_hostile_or_broken_xml_is_refused(client, monitor, doc):
    from resolute.monitoring.models import Observation

    body = doc % str(uuid.uuid4()).encode() if b"%s" in doc else doc
    r = Collect(client, monitor).post(body)
    assert r.status_code == 400, r.content
    assert r["X-OpenRosa-Version"] == "1.0"
    assert b"root:" not in r.content
    assert not Observation.objects.exists()


def test_missing_instance_id_and_invalid_answers(client, monitor):
    collect = Collect(client, monitor)
    collect.fetch_form()
    assert collect.post(collect.fill("", **sector_answers())).status_code == 400
    bad = collect.post(collect.fill(new_instance(), **sector_answers(event_type="picnic")))
    assert bad.status_code == 422 and "event_type" in response_message(bad)
    assert Collect(client, monitor).post(b"<data id='other_form'/>").status_code == 400


def test_oversized_attachment_is_413(client, monitor, settings):
    settings.OPENROSA_MAX_ATTACHMENT_BYTES = 1000
    collect = Collect(client, monitor)
    collect.fetch_form()
    r = collect.post(collect.fill(new_instance(), **sector_answers()), {"photo.jpg": JPEG})
    assert r.status_code == 413


@pytest.mark.parametrize("where", ["/openrosa/formList", "/openrosa/forms/resolute_observation.xml", "/openrosa/submission"])
def test_unauthenticated_gets_a_challenge(client, users, tokens, where):
    for headers in (
        OR,  # none
        basic(users["monitor"].username, "rsl_not-a-token"),  # wrong token
        basic("analyst-user", tokens["monitor"]),  # someone else's token
        {"HTTP_AUTHORIZATION": "Basic !!!"},
    ):
        r = client.head(where, **headers) if where.endswith("submission") else client.get(where, **headers)
        assert r.status_code == 401, (where, headers)
        assert r["WWW-Authenticate"].startswith("Digest realm=") and ', Basic realm="' in r["WWW-Authenticate"]
        assert r["X-OpenRosa-Version"] == "1.0"
    r = client.post("/openrosa/submission", {"xml_submission_file": SimpleUploadedFile("s.xml", b"<data/>")}, **basic("monitor-user", "rsl_wrong"))
    assert r.status_code == 401


def test_bearer_token_works_and_read_only_roles_may_not_submit(client, users, tokens):
    from resolute.accounts import services

    r = client.get("/openrosa/formList", HTTP_AUTHORIZATION=f"Bearer {tokens['monitor']}")
    assert r.status_code == 200
    public = Collect(client, basic("public-user", tokens["public"]))
    public.fetch_form()  # the public may read the form…
    assert public.post(public.fill(new_instance(), **sector_answers())).status_code == 403  # …not submit
    _, read_only = services.issue_token("test", users["monitor"], "ro", ("read",))
    ro = Collect(client, basic("monitor-user", read_only))
    ro.fetch_form()
    assert ro.post(ro.fill(new_instance(), **sector_answers())).status_code == 403


def test_form_choices_are_the_vocabulary():
    from resolute.interop.openrosa import xform

    root = ET.fromstring(xform("resolute_observation")["xml"])
    lists = {
        inst.get("id"): [item.findtext(f"{{{XF}}}name") for item in inst.iter(f"{{{XF}}}item")]
        for inst in root.iter(f"{{{XF}}}instance")
        if inst.get("id")
    }
    assert lists["channels"] == list(v.CHANNELS)
    assert lists["event_types"] == list(v.EVENT_TYPES)
    assert lists["perceptions"] == list(v.PERCEPTIONS)
    assert lists["weapon_classes"] == list(v.WEAPON_CLASSES)
    assert lists["sectors"] == list(COMPASS_16)

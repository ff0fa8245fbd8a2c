"""HTTP Digest on the OpenRosa endpoints, driven the way ODK Collect drives it.

Collect (OkHttp with okhttp-digest) sends a request without credentials, answers the 401's
Digest challenge, then keeps using that nonce with an increasing nonce-count until the server
says stale=true. The replay harness below does the same over the Django test client with
Digest headers computed here from RFC 7616 (independently of the server's code); one test runs
the whole exchange against a live server with the real `requests.auth.HTTPDigestAuth`. The
negative cases are hand-built headers: stale nonce, replayed nc, wrong token, wrong uri,
revoked/expired token, a nonce the server never issued, a token issued before Digest existed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
import uuid
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import pytest
import requests
from requests.auth import HTTPDigestAuth

from tests.interop.test_openrosa import JPEG, LIST_NS, OR, Collect, basic, new_instance, response_message, sector_answers

REALM = "Resolute OpenRosa"
CHALLENGE_PARAM = re.compile(r'(\w+)=(?:"([^"]*)"|([^\s,]+))')


@pytest.fixture(autouse=True)
def _data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def challenges(header: str) -> dict[str, dict[str, str]]:
    """{'digest': {params}, 'basic': {params}} from a WWW-Authenticate value holding both."""
    out: dict[str, dict[str, str]] = {}
    for part in re.split(r",\s*(?=(?:Digest|Basic)\s)", header):
        scheme, _, rest = part.partition(" ")
        out[scheme.lower()] = {m[1]: m[2] if m[2] is not None else m[3] for m in CHALLENGE_PARAM.finditer(rest)}
    return out


def digest_header(method: str, uri: str, username: str, secret: str, nonce: str, nc: int = 1, *, opaque: str | None = None,
                  cnonce: str = "f2a3c1d0e9b8a7f6", realm: str = REALM, qop: str | None = "auth", algorithm: str = "MD5",
                  response: str | None = None) -> str:  # fmt: skip
    """The Authorization value a Digest client sends (RFC 7616 §3.4, MD5, qop=auth)."""
    ha1 = md5(f"{username}:{realm}:{secret}")
    ha2 = md5(f"{method}:{uri}")
    expected = md5(f"{ha1}:{nonce}:{nc:08x}:{cnonce}:{qop}:{ha2}") if qop else md5(f"{ha1}:{nonce}:{ha2}")
    parts = [f'username="{username}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"', f'response="{response or expected}"']
    if qop:
        parts += [f"qop={qop}", f"nc={nc:08x}", f'cnonce="{cnonce}"']
    parts.append(f"algorithm={algorithm}")
    if opaque is not None:
        parts.append(f'opaque="{opaque}"')
    return "Digest " + ", ".join(parts)


class DigestDevice:
    """A test-client wrapper that authenticates like okhttp-digest: no credentials until the
    first 401, then the challenge's nonce with nc 1, 2, 3…; a new challenge (stale=true)
    restarts the count. Every exchange is logged as (method, path, status)."""

    def __init__(self, client, username: str, secret: str):
        self.c = client
        self.username, self.secret = username, secret
        self.nonce = self.opaque = None
        self.nc = 0
        self.log: list[tuple[str, str, int]] = []

    def _send(self, method: str, path: str, data=None, **extra):
        call = getattr(self.c, method.lower())
        headers = dict(extra)
        if self.nonce:
            self.nc += 1
            headers["HTTP_AUTHORIZATION"] = digest_header(method, path, self.username, self.secret, self.nonce, self.nc, opaque=self.opaque)
        args = (path, data) if data is not None else (path,)
        r = call(*args, **headers)
        self.log.append((method, path, r.status_code))
        return r

    def request(self, method: str, path: str, data=None, **extra):
        r = self._send(method, path, data, **extra)
        if r.status_code == 401:
            d = challenges(r["WWW-Authenticate"])["digest"]
            # okhttp-digest gives up when a challenge without stale=true follows a Digest attempt.
            if self.nonce and d.get("stale") != "true":
                return r
            self.nonce, self.opaque, self.nc = d["nonce"], d.get("opaque"), 0
            r = self._send(method, path, data, **extra)
        return r

    def get(self, path, data=None, **extra):
        return self.request("GET", path, data, **extra)

    def head(self, path, **extra):
        return self.request("HEAD", path, **extra)

    def post(self, path, data=None, **extra):
        return self.request("POST", path, data, **extra)


def fresh_challenge(client, path: str = "/openrosa/submission") -> dict[str, str]:
    r = client.head(path, **OR)
    assert r.status_code == 401
    return challenges(r["WWW-Authenticate"])["digest"]


def auth(value: str) -> dict:
    return {"HTTP_AUTHORIZATION": value, **OR}


# --- the exchange --------------------------------------------------------------------------------


def test_collect_replay_over_digest(client, users, tokens):
    """HEAD → 401 → HEAD with Digest → 204, submit with a photo → 201, resend → same answer and
    nothing duplicated, other XML under the same instanceID → 409; form list, form and
    manifest through Digest as well."""
    from resolute.monitoring.models import Observation

    device = DigestDevice(client, "monitor-user", tokens["monitor"])
    collect = Collect(device, OR)

    head = collect.head()
    assert device.log == [("HEAD", "/openrosa/submission", 401), ("HEAD", "/openrosa/submission", 204)]
    assert head.status_code == 204
    assert head["X-OpenRosa-Version"] == "1.0"
    assert int(head["X-OpenRosa-Accept-Content-Length"]) > 0

    collect.fetch_form()  # form list, form and manifest, on the cached nonce (nc 2, 3, 4)
    assert [s for _, _, s in device.log[2:]] == [200, 200, 200] and device.nc == 4

    iid = new_instance()
    xml = collect.fill(iid, **sector_answers())
    r = collect.post(xml, {"photo.jpg": JPEG})
    assert r.status_code == 201, r.content
    assert r["X-OpenRosa-Version"] == "1.0"
    obs = Observation.objects.get(client_id=uuid.UUID(iid[5:]))
    assert obs.attachments == [hashlib.sha256(JPEG).hexdigest()]
    assert obs.submitted_by_id == users["monitor"].pk

    again = collect.post(xml, {"photo.jpg": JPEG})
    assert again.status_code == 201 and "already received" in response_message(again)
    assert Observation.objects.count() == 1
    assert Observation.objects.get(client_id=uuid.UUID(iid[5:])).attachments == obs.attachments

    conflict = collect.post(collect.fill(iid, **sector_answers(count=8)), {"photo.jpg": JPEG})
    assert conflict.status_code == 409, conflict.content
    assert Observation.objects.get().count == 7
    # One challenge for the whole session: every later request used the cached nonce.
    assert [s for _, _, s in device.log].count(401) == 1


@pytest.mark.django_db(transaction=True)
def test_real_digest_client_against_a_live_server(live_server, users, tokens):
    """requests' HTTPDigestAuth, over real HTTP: the challenge arrives as two WWW-Authenticate
    fields (Digest first), and the whole Collect exchange goes through."""
    from resolute.monitoring.models import Observation

    s = requests.Session()
    s.auth = HTTPDigestAuth("monitor-user", tokens["monitor"])
    s.headers["X-OpenRosa-Version"] = "1.0"
    url = live_server.url + "/openrosa"

    head = s.head(f"{url}/submission", timeout=30)
    assert head.status_code == 204, head.content
    assert head.headers["X-OpenRosa-Version"] == "1.0" and int(head.headers["X-OpenRosa-Accept-Content-Length"]) > 0
    [challenge] = head.history
    assert challenge.status_code == 401
    fields = challenge.raw.headers.getlist("WWW-Authenticate")
    assert len(fields) == 2 and fields[0].startswith("Digest ") and fields[1].startswith("Basic ")
    d = challenges(fields[0])["digest"]
    assert d["realm"] == REALM and d["qop"] == "auth" and d["algorithm"] == "MD5" and d["nonce"] and d["opaque"]
    assert challenges(fields[1])["basic"]["realm"] == REALM

    listing = s.get(f"{url}/formList", timeout=30)
    assert listing.status_code == 200 and not listing.history  # the cached nonce, nc=2
    entry = ET.fromstring(listing.content).find(f"{LIST_NS}xform")
    form = s.get(entry.findtext(f"{LIST_NS}downloadUrl"), timeout=30)
    assert form.status_code == 200 and entry.findtext(f"{LIST_NS}hash") == "md5:" + md5_bytes(form.content)
    assert s.get(entry.findtext(f"{LIST_NS}manifestUrl"), timeout=30).status_code == 200

    collect = Collect(None, {})
    collect.template = _template(form.content)
    iid = new_instance()
    xml = collect.fill(iid, **sector_answers())
    files = {"xml_submission_file": ("submission.xml", xml, "text/xml"), "photo.jpg": ("photo.jpg", JPEG, "image/jpeg")}
    posted = s.post(f"{url}/submission", files=files, timeout=30)
    assert posted.status_code == 201, posted.content
    assert posted.headers["X-OpenRosa-Version"] == "1.0"
    assert s.post(f"{url}/submission", files=files, timeout=30).status_code == 201
    other = {**files, "xml_submission_file": ("submission.xml", collect.fill(iid, **sector_answers(count=9)), "text/xml")}
    assert s.post(f"{url}/submission", files=other, timeout=30).status_code == 409
    assert Observation.objects.filter(client_id=uuid.UUID(iid[5:])).count() == 1

    # A wrong token: requests answers the challenge once, then hands back the 401.
    bad = requests.head(f"{url}/submission", auth=HTTPDigestAuth("monitor-user", "rsl_wrong"), timeout=30)
    assert bad.status_code == 401


def md5_bytes(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _template(form_xml: bytes) -> str:
    xf, h = "http://www.w3.org/2002/xforms", "http://www.w3.org/1999/xhtml"
    instance = ET.fromstring(form_xml).find(f"{{{h}}}head/{{{xf}}}model/{{{xf}}}instance")
    return ET.tostring(next(iter(instance)), encoding="unicode")


# --- the challenge ---------------------------------------------------------------------------


def test_challenge_offers_digest_then_basic(client, users):
    r = client.get("/openrosa/formList", **OR)
    assert r.status_code == 401 and r["X-OpenRosa-Version"] == "1.0"
    header = r["WWW-Authenticate"]
    assert header.startswith("Digest ")
    c = challenges(header)
    assert c["digest"]["realm"] == REALM and c["digest"]["qop"] == "auth" and c["digest"]["algorithm"] == "MD5"
    assert "stale" not in c["digest"]
    assert c["basic"]["realm"] == REALM
    # Every challenge carries a new nonce.
    assert fresh_challenge(client)["nonce"] != fresh_challenge(client)["nonce"]


def test_issued_tokens_carry_ha1_and_basic_still_works(client, users, tokens):
    from resolute.accounts.models import ApiToken

    token = ApiToken.objects.get(user=users["monitor"])
    assert token.digest_ha1 == md5(f"monitor-user:{REALM}:{tokens['monitor']}")
    assert client.head("/openrosa/submission", **basic("monitor-user", tokens["monitor"])).status_code == 204


# --- hand-built credentials: what must fail ------------------------------------------------------------


def test_correct_digest_on_each_endpoint(client, tokens):
    c = fresh_challenge(client)
    for nc, (method, path, status) in enumerate(
        [("HEAD", "/openrosa/submission", 204), ("GET", "/openrosa/formList", 200),
         ("GET", "/openrosa/forms/resolute_observation.xml", 200), ("GET", "/openrosa/forms/resolute_observation/manifest", 200)],
        start=1,
    ):  # fmt: skip
        h = auth(digest_header(method, path, "monitor-user", tokens["monitor"], c["nonce"], nc, opaque=c["opaque"]))
        r = client.head(path, **h) if method == "HEAD" else client.get(path, **h)
        assert r.status_code == status, (path, r.content)


def test_query_string_is_part_of_the_uri(client, tokens):
    c = fresh_challenge(client)
    good = auth(digest_header("GET", "/openrosa/formList?formID=resolute_observation", "monitor-user", tokens["monitor"], c["nonce"]))
    assert client.get("/openrosa/formList", {"formID": "resolute_observation"}, **good).status_code == 200
    bare = auth(digest_header("GET", "/openrosa/formList", "monitor-user", tokens["monitor"], c["nonce"], 2))
    assert client.get("/openrosa/formList", {"formID": "resolute_observation"}, **bare).status_code == 400


def test_stale_nonce_gets_stale_true_and_a_new_nonce_works(client, tokens):
    from resolute.interop import openrosa

    old = openrosa.make_nonce(now=time.time() - openrosa.NONCE_TTL_S - 30)
    r = client.get("/openrosa/formList", **auth(digest_header("GET", "/openrosa/formList", "monitor-user", tokens["monitor"], old)))
    assert r.status_code == 401
    c = challenges(r["WWW-Authenticate"])["digest"]
    assert c["stale"] == "true" and c["nonce"] != old
    assert "expired" in response_message(r)
    # The client retries at once with the new nonce.
    retry = auth(digest_header("HEAD", "/openrosa/submission", "monitor-user", tokens["monitor"], c["nonce"]))
    assert client.head("/openrosa/submission", **retry).status_code == 204
    # A stale nonce with a wrong token is not "stale": the credentials are wrong.
    wrong = client.head("/openrosa/submission", **auth(digest_header("HEAD", "/openrosa/submission", "monitor-user", "rsl_nope", old)))
    assert wrong.status_code == 401 and "stale" not in challenges(wrong["WWW-Authenticate"])["digest"]


def test_a_slow_upload_is_not_stale_for_its_size(client, tokens, settings):
    """The nonce was chosen before the upload began; a POST gets time for its body at a poor
    link's rate on top of the nonce lifetime."""
    from resolute.interop import openrosa

    issued = time.time() - openrosa.NONCE_TTL_S - 100
    nonce = openrosa.make_nonce(now=issued)
    body = {"padding": "x" * (200 * openrosa.SLOW_LINK_BYTES_PER_S)}  # 200 s of upload at the slow rate
    h = auth(digest_header("POST", "/openrosa/submission", "monitor-user", tokens["monitor"], nonce))
    r = client.post("/openrosa/submission", body, **h)
    assert r.status_code == 400 and "xml_submission_file" in response_message(r)  # authenticated; the body is not a submission
    h = auth(digest_header("HEAD", "/openrosa/submission", "monitor-user", tokens["monitor"], nonce, 2))
    assert client.head("/openrosa/submission", **h).status_code == 401  # no body, no allowance


def test_replayed_nonce_count_is_refused(client, tokens):
    c = fresh_challenge(client)
    first = auth(digest_header("HEAD", "/openrosa/submission", "monitor-user", tokens["monitor"], c["nonce"], 2, opaque=c["opaque"]))
    assert client.head("/openrosa/submission", **first).status_code == 204
    replay = client.head("/openrosa/submission", **first)
    assert replay.status_code == 401
    again = auth(digest_header("GET", "/openrosa/formList", "monitor-user", tokens["monitor"], c["nonce"], 3, opaque=c["opaque"]))
    assert client.get("/openrosa/formList", **again).status_code == 200
    assert "already used" in response_message(client.get("/openrosa/formList", **again))
    assert "stale" not in challenges(replay["WWW-Authenticate"])["digest"]
    # Counts may arrive out of order (parallel requests): an unused lower count is accepted…
    lower = auth(digest_header("HEAD", "/openrosa/submission", "monitor-user", tokens["monitor"], c["nonce"], 1, opaque=c["opaque"]))
    assert client.head("/openrosa/submission", **lower).status_code == 204
    # …once.
    assert client.head("/openrosa/submission", **lower).status_code == 401


def test_replay_is_refused_whatever_the_method_or_endpoint(client, tokens):
    """A captured credential is bound to its method and uri: replaying it elsewhere fails."""
    c = fresh_challenge(client)
    h = auth(digest_header("HEAD", "/openrosa/submission", "monitor-user", tokens["monitor"], c["nonce"], 5))
    r = client.post("/openrosa/submission", {"xml_submission_file": b"<data/>"}, **h)
    assert r.status_code == 401  # signed for HEAD, sent as POST


def test_wrong_token_other_user_and_unknown_user(client, users, tokens):
    c = fresh_challenge(client)
    for username, secret in (("monitor-user", "rsl_not-the-token"), ("monitor-user", tokens["analyst"]), ("nobody", tokens["monitor"])):
        r = client.head("/openrosa/submission", **auth(digest_header("HEAD", "/openrosa/submission", username, secret, c["nonce"])))
        assert r.status_code == 401, username
        assert r["WWW-Authenticate"].startswith("Digest ")
    # Right token, wrong answer.
    bad = digest_header("HEAD", "/openrosa/submission", "monitor-user", tokens["monitor"], c["nonce"], response="0" * 32)
    assert client.head("/openrosa/submission", **auth(bad)).status_code == 401


def test_wrong_uri_is_a_400_naming_uri(client, tokens):
    c = fresh_challenge(client)
    # A correct answer for another resource, presented on this one.
    h = auth(digest_header("HEAD", "/openrosa/formList", "monitor-user", tokens["monitor"], c["nonce"]))
    r = client.head("/openrosa/submission", **h)
    assert r.status_code == 400 and r["X-OpenRosa-Version"] == "1.0"
    # (HEAD has no body: ask with GET to read the message.)
    h = auth(digest_header("GET", "/openrosa/submission", "monitor-user", tokens["monitor"], c["nonce"], 2))
    r = client.get("/openrosa/formList", **h)
    assert r.status_code == 400 and "uri" in response_message(r)
    # The absolute form of the right URI is accepted (RFC 7616 allows it)…
    h = auth(digest_header("GET", "http://testserver/openrosa/formList", "monitor-user", tokens["monitor"], c["nonce"], 3))
    assert client.get("/openrosa/formList", **h).status_code == 200
    # …on this host only.
    h = auth(digest_header("GET", "http://elsewhere.example/openrosa/formList", "monitor-user", tokens["monitor"], c["nonce"], 4))
    assert client.get("/openrosa/formList", **h).status_code == 400


def test_revoked_and_expired_tokens_and_inactive_users_fail(client, users):
    from django.utils import timezone

    from resolute.accounts import services

    revoked, revoked_secret = services.issue_token("test", users["monitor"], "to revoke", ("read", "write"))
    _, expired = services.issue_token("test", users["monitor"], "expired", ("read", "write"), expires_at=timezone.now() - dt.timedelta(minutes=1))
    _, live = services.issue_token("test", users["monitor"], "live", ("read", "write"))
    c = fresh_challenge(client)

    def head(secret: str, nc: int) -> int:
        h = auth(digest_header("HEAD", "/openrosa/submission", "monitor-user", secret, c["nonce"], nc))
        return client.head("/openrosa/submission", **h).status_code

    assert head(revoked_secret, 1) == 204
    services.revoke_token("test", revoked.pk)
    assert head(revoked_secret, 2) == 401
    assert head(expired, 3) == 401
    assert head(live, 4) == 204
    users["monitor"].is_active = False
    users["monitor"].save(update_fields=["is_active"])
    assert head(live, 5) == 401


def test_nonce_not_issued_here_and_bad_parameters_fail(client, tokens):
    c = fresh_challenge(client)
    stamp, salt, mac = c["nonce"].split(".")
    forged = f"{int(stamp) + 7}.{salt}.{mac}"  # another time under the same signature
    for value in (
        digest_header("HEAD", "/openrosa/submission", "monitor-user", tokens["monitor"], forged),
        digest_header("HEAD", "/openrosa/submission", "monitor-user", tokens["monitor"], "made-up-nonce"),
        digest_header("HEAD", "/openrosa/submission", "monitor-user", tokens["monitor"], c["nonce"], realm="Other realm"),
        digest_header("HEAD", "/openrosa/submission", "monitor-user", tokens["monitor"], c["nonce"], algorithm="SHA-256"),
        digest_header("HEAD", "/openrosa/submission", "monitor-user", tokens["monitor"], c["nonce"], qop=None),  # RFC 2069: no nc
        digest_header("HEAD", "/openrosa/submission", "monitor-user", tokens["monitor"], c["nonce"], opaque="not-ours"),
        digest_header("HEAD", "/openrosa/submission", "monitor-user", tokens["monitor"], c["nonce"], nc=0),
    ):
        assert client.head("/openrosa/submission", **auth(value)).status_code == 401, value
    for value in ('Digest username="monitor-user", realm', 'Digest username="a", username="b"', "Digest ,,,"):
        r = client.get("/openrosa/formList", **auth(value))
        assert r.status_code == 400 and "Digest" in response_message(r)


def test_token_issued_before_digest_works_with_basic_only(client, users):
    """Tokens from before the HA1 column have none: Digest cannot check them, Basic can."""
    from resolute.accounts import services
    from resolute.accounts.models import ApiToken

    token, secret = services.issue_token("test", users["monitor"], "old device", ("read", "write"))
    ApiToken.objects.filter(pk=token.pk).update(digest_ha1=None)
    c = fresh_challenge(client)
    r = client.head("/openrosa/submission", **auth(digest_header("HEAD", "/openrosa/submission", "monitor-user", secret, c["nonce"])))
    assert r.status_code == 401
    assert client.head("/openrosa/submission", **basic("monitor-user", secret)).status_code == 204


def test_expired_nonce_pairs_are_swept(client, tokens):
    from resolute.accounts.models import DigestNonceUse

    DigestNonceUse.objects.create(nonce="1.old.x", nc=1, expires_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    c = fresh_challenge(client)
    h = auth(digest_header("HEAD", "/openrosa/submission", "monitor-user", tokens["monitor"], c["nonce"]))
    assert client.head("/openrosa/submission", **h).status_code == 204
    assert list(DigestNonceUse.objects.values_list("nonce", flat=True)) == [c["nonce"]]


def test_read_only_digest_token_may_not_submit(client, users):
    from resolute.accounts import services

    _, ro = services.issue_token("test", users["monitor"], "ro", ("read",))
    device = DigestDevice(client, "monitor-user", ro)
    collect = Collect(device, OR)
    collect.fetch_form()
    assert collect.post(collect.fill(new_instance(), **sector_answers())).status_code == 403


def test_downloaded_urls_are_absolute_and_digest_uses_their_path(client, tokens):
    device = DigestDevice(client, "monitor-user", tokens["monitor"])
    r = device.get("/openrosa/formList", **OR)
    url = ET.fromstring(r.content).find(f"{LIST_NS}xform").findtext(f"{LIST_NS}downloadUrl")
    assert url.startswith("http://testserver/")
    assert device.get(urlsplit(url).path, **OR).status_code == 200

"""OpenRosa 1.0 server for ODK Collect, KoboCollect and Enketo: form list, form download,
manifest and submission.

Monitors in the field already carry ODK Collect; this lets them fill in the observation form
(forms/observation.md, an XLSForm converted with pyxform at first use) offline and send it when
they have a signal. Each submission becomes one `ObservationIn` and goes through the same
intake service as every other channel (`monitoring.services.submit_observations`), so it is
validated, idempotent per instanceID and audited the same way.

Authentication: the user's username and one of their API tokens as the password, by HTTP
Digest (RFC 7616 as ODK Collect and `requests.auth.HTTPDigestAuth` speak it: algorithm MD5,
qop="auth") or HTTP Basic; a `Bearer` header is accepted too. A 401 offers both challenges,
Digest first, as two WWW-Authenticate fields. Digest checks the response against the HA1 stored
with each of the user's live tokens (tokens issued before Digest existed have none and work with
Basic only). Nonces are stateless: issue time, a random salt and an HMAC under SECRET_KEY; an
expired one is answered with stale=true so the client retries at once. Each (nonce, nc) pair is
accepted once (a table, so across processes): a replayed request fails. Basic sends the token
itself and must only run over HTTPS; Digest never sends it.

Sizes: the body limit (RESOLUTE_MAX_BODY_BYTES, middleware) is announced in HEAD's
X-OpenRosa-Accept-Content-Length, so Collect splits bigger submissions; each part is limited to
RESOLUTE_OPENROSA_MAX_ATTACHMENT_BYTES while it is read, and the number of parts by Django's
DATA_UPLOAD_MAX_NUMBER_FILES/FIELDS. Every refusal is a 413 before anything is stored.

Submission XML is parsed with defusedxml with DTDs forbidden (XXE, entity expansion → 400).
Attachments are hashed (SHA-256) into the observation's `attachments`; their bytes are not kept
once the observation is stored. A submission split over several POSTs (`*isIncomplete*` =
yes) is held under DATA_DIR/openrosa-pending/<user>-<instance>/ until the last POST.

Mounted by web/urls.py under a prefix ("openrosa/"); absolute URLs in the form list are built
with `reverse`, so they follow wherever the patterns are mounted.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import json
import os
import re
import secrets
import shutil
import time
import uuid
from pathlib import Path
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree as ET

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import path, reverse
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError

from resolute.accounts import roles
from resolute.accounts.services import DIGEST_REALM, authenticate_digest, authenticate_token, use_digest_nonce
from resolute.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    ServiceError,
    pydantic_errors,
)
from resolute.monitoring import services as monitoring
from resolute.monitoring.models import Observation, Source
from resolute.monitoring.schemas import ObservationIn

app_name = "openrosa"

FORMS_DIR = Path(__file__).parent / "forms"
FORM_FILES = {"resolute_observation": "observation.md"}
REALM = DIGEST_REALM
XFORMS_LIST_NS = "http://openrosa.org/xforms/xformsList"
MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"
RESPONSE_NS = "http://openrosa.org/http/response"
XML = "text/xml; charset=utf-8"
PENDING_TTL_S = 7 * 24 * 3600
# What every device submission is graded and labelled as (the brief's defaults for a
# monitor's own report through a device).
GRADE = "B2"
XML_PART = "xml_submission_file"
# A Digest nonce is fresh for this long after it was issued; then the client gets stale=true.
NONCE_TTL_S = 300
# The view sees a request only once its body has arrived, and the nonce was chosen before the
# upload began: a submission over a poor link (here 2 kB/s, GPRS with a weak signal) gets the
# time its size needs on top of NONCE_TTL_S, so a slow upload is not refused as stale forever.
SLOW_LINK_BYTES_PER_S = 2048


class OpenRosaError(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


# --- forms ------------------------------------------------------------------------------------


@functools.cache
def xform(form_id: str) -> dict:
    """The XForm for `form_id`, converted from its XLSForm at first use and kept in memory:
    {"xml": bytes, "id", "version", "title", "hash": "md5:…"}."""
    from pyxform.xls2xform import convert

    name = FORM_FILES.get(form_id)
    if name is None:
        raise OpenRosaError(404, f"no form {form_id!r}")
    result = convert((FORMS_DIR / name).read_text(encoding="utf-8"), file_type=".md")
    data = result.xform.encode("utf-8")
    root = SafeET.fromstring(data, forbid_dtd=True)
    ns = {"h": "http://www.w3.org/1999/xhtml", "x": "http://www.w3.org/2002/xforms"}
    instance = root.find("h:head/x:model/x:instance", ns)
    main = next(iter(instance))
    if main.get("id") != form_id:
        raise RuntimeError(f"{name} declares form_id {main.get('id')!r}, expected {form_id!r}")
    return {
        "xml": data,
        "id": form_id,
        "version": main.get("version") or "",
        "title": root.findtext("h:head/h:title", "", ns) or form_id,
        "hash": "md5:" + hashlib.md5(data).hexdigest(),
    }


# --- HTTP plumbing ----------------------------------------------------------------------------


def _headers(resp: HttpResponse) -> HttpResponse:
    resp["X-OpenRosa-Version"] = "1.0"
    resp["Date"] = http_date()
    return resp


def _xml_response(element: ET.Element | bytes, status: int = 200) -> HttpResponse:
    body = element if isinstance(element, bytes) else ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return _headers(HttpResponse(body, status=status, content_type=XML))


def _openrosa_response(status: int, message: str, nature: str = "") -> HttpResponse:
    root = ET.Element("OpenRosaResponse", xmlns=RESPONSE_NS)
    msg = ET.SubElement(root, "message")
    if nature:
        msg.set("nature", nature)
    msg.text = message
    return _xml_response(root, status)


class AuthenticationFailed(Exception):
    """No acceptable credentials: answered with a 401 and fresh challenges."""

    def __init__(self, message: str, stale: bool = False):
        super().__init__(message)
        self.message = message
        self.stale = stale


def _authenticate(request):
    """The user behind the Authorization header: Digest, Basic username:token, or Bearer token.
    Raises AuthenticationFailed (401) or OpenRosaError (400, a malformed Digest credential)."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "digest":
        return _digest_user(request, value)
    if scheme == "bearer":
        user = authenticate_token(value.strip())
    elif scheme == "basic":
        user = _basic_user(value)
    else:
        raise AuthenticationFailed("authentication required: your username and an API token as the password")
    if user is None:
        raise AuthenticationFailed("wrong username or token, or the token is revoked or expired")
    return user


def _basic_user(value: str):
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, sep, secret = decoded.partition(":")
    if not sep:
        return None
    user = authenticate_token(secret)
    if user is None or user.username != username:
        return None
    return user


# --- HTTP Digest (RFC 7616, MD5 and qop=auth as ODK Collect uses it) ----------------------------

_DIGEST_PARAM = re.compile(r'\s*([A-Za-z0-9_*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s",]*))\s*(?:,|$)')
_DIGEST_REQUIRED = ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce")


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def parse_digest(value: str) -> dict[str, str] | None:
    """The parameters of a Digest credential (names lower-cased, quoted strings unescaped), or
    None when it is not a comma-separated list of name=value pairs without repeats."""
    params: dict[str, str] = {}
    pos = 0
    while value[pos:].strip():
        m = _DIGEST_PARAM.match(value, pos)
        if m is None or m.end() == pos:
            return None
        name = m[1].lower()
        if name in params:
            return None
        params[name] = re.sub(r"\\(.)", r"\1", m[2]) if m[2] is not None else m[3]
        pos = m.end()
    return params


def _nonce_mac(stamp: str, salt: str) -> str:
    return salted_hmac("resolute.openrosa.digest-nonce", f"{stamp}.{salt}", algorithm="sha256").hexdigest()[:32]


def make_nonce(now: float | None = None) -> str:
    """A server nonce: '<issued, unix seconds>.<random salt>.<HMAC-SHA256 of both under
    SECRET_KEY>'. Nothing is stored: any process holding the key can check it."""
    stamp = str(int(time.time() if now is None else now))
    salt = secrets.token_hex(8)
    return f"{stamp}.{salt}.{_nonce_mac(stamp, salt)}"


def nonce_issued(nonce: str) -> int | None:
    """When we issued `nonce` (unix seconds), or None if we did not (bad form or signature)."""
    parts = nonce.split(".")
    if len(parts) != 3 or not parts[0].isdigit() or len(parts[0]) > 12:
        return None
    if not constant_time_compare(parts[2], _nonce_mac(parts[0], parts[1])):
        return None
    return int(parts[0])


def _opaque() -> str:
    return salted_hmac("resolute.openrosa.digest-opaque", REALM, algorithm="sha256").hexdigest()[:32]


def _same_target(uri: str, request) -> bool:
    """Whether the credential's `uri` names the requested resource (RFC 7616 §3.4.6): the
    request target as sent (path and query), or the absolute URI on this host."""
    target = uri
    if "://" in uri:
        parts = urlsplit(uri)
        if parts.netloc.lower() != request.get_host().lower():
            return False
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return unquote(target) == unquote(request.get_full_path())


def _digest_user(request, value: str):
    p = parse_digest(value)
    if p is None:
        raise OpenRosaError(400, "the Authorization header is not a well-formed Digest credential")
    missing = [k for k in _DIGEST_REQUIRED if not p.get(k)]
    if missing:
        raise AuthenticationFailed(f"the Digest credential lacks {', '.join(missing)} (qop=\"auth\" is required)")
    if p["realm"] != REALM:
        raise AuthenticationFailed(f"Digest realm must be {REALM!r}")
    if p.get("algorithm", "MD5").upper() != "MD5" or p["qop"] != "auth":
        raise AuthenticationFailed('Digest algorithm must be MD5 and qop "auth"')
    if not re.fullmatch(r"[0-9A-Fa-f]{8}", p["nc"]) or int(p["nc"], 16) == 0:
        raise AuthenticationFailed("Digest nc must be 8 hexadecimal digits, from 00000001")
    if "opaque" in p and not constant_time_compare(p["opaque"], _opaque()):
        raise AuthenticationFailed("Digest opaque is not the one this server sent")
    if not _same_target(p["uri"], request):
        raise OpenRosaError(400, f"Authorization: Digest uri {p['uri'][:200]!r} is not the requested resource {request.get_full_path()!r}")
    issued = nonce_issued(p["nonce"])
    if issued is None:
        raise AuthenticationFailed("the Digest nonce was not issued by this server")

    ha2 = _md5(f"{request.method}:{p['uri']}")
    tail = f":{p['nonce']}:{p['nc']}:{p['cnonce']}:auth:{ha2}"
    answer = p["response"].lower()
    user = authenticate_digest(p["username"], lambda ha1: constant_time_compare(_md5(ha1 + tail), answer))
    if user is None:
        raise AuthenticationFailed("wrong username or token, or the token is revoked, expired or older than Digest (use Basic)")

    # Freshness is judged only for a correct answer, so stale=true (retry with the new nonce,
    # no prompt) never tells a guesser anything.
    now = time.time()
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if not (issued - 60 <= now <= issued + NONCE_TTL_S + length / SLOW_LINK_BYTES_PER_S):
        raise AuthenticationFailed("the Digest nonce has expired", stale=True)
    # Pairs are remembered for as long as the nonce could be accepted with the largest body.
    last_valid = issued + NONCE_TTL_S + settings.MAX_BODY_BYTES / SLOW_LINK_BYTES_PER_S
    if not use_digest_nonce(p["nonce"], int(p["nc"], 16), dt.datetime.fromtimestamp(last_valid, dt.UTC)):
        raise AuthenticationFailed("this Digest nonce count was already used (a replayed request)")
    return user


class ChallengeResponse(HttpResponse):
    """A 401 whose challenges go out as separate WWW-Authenticate fields. Django keeps one
    value per header name, so `items()` (what the WSGI and ASGI handlers send) yields one field
    per challenge; RFC 9110 §11.6.1 allows the repetition and okhttp-digest (ODK Collect) looks
    for a field *starting* with "Digest". The header map holds the challenges joined by commas,
    Digest first, which is the same list for in-process readers (the test client)."""

    challenges: tuple[str, ...] = ()

    def items(self):
        for name, value in super().items():
            if name.lower() != "www-authenticate":
                yield name, value
        for challenge in self.challenges:
            yield "WWW-Authenticate", challenge


def _challenge(message: str, stale: bool = False) -> HttpResponse:
    root = ET.Element("OpenRosaResponse", xmlns=RESPONSE_NS)
    ET.SubElement(root, "message").text = message
    resp = ChallengeResponse(ET.tostring(root, encoding="utf-8", xml_declaration=True), status=401, content_type=XML)
    digest = f'Digest realm="{REALM}", qop="auth", nonce="{make_nonce()}", opaque="{_opaque()}", algorithm=MD5, charset=UTF-8'
    if stale:
        digest += ", stale=true"
    resp.challenges = (digest, f'Basic realm="{REALM}", charset="UTF-8"')
    resp["WWW-Authenticate"] = ", ".join(resp.challenges)
    return _headers(resp)


def openrosa_view(*methods: str):
    """CSRF exempt (device clients), authenticated, OpenRosa headers on every answer, errors
    as OpenRosaResponse documents."""

    def wrap(view):
        @functools.wraps(view)
        def inner(request, *args, **kwargs):
            if request.method not in methods:
                resp = _openrosa_response(405, f"{request.method} is not allowed here")
                resp["Allow"] = ", ".join(methods)
                return resp
            try:
                request.user = _authenticate(request)
                return view(request, *args, **kwargs)
            except AuthenticationFailed as exc:
                return _challenge(exc.message, exc.stale)
            except OpenRosaError as exc:
                resp = _openrosa_response(exc.status, exc.message)
                for k, v in exc.headers.items():
                    resp[k] = v
                return resp
            except ServiceError as exc:
                detail = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in exc.errors)
                return _openrosa_response(exc.status, exc.detail + (f" ({detail})" if detail else ""))

        return csrf_exempt(inner)

    return wrap


# --- views ------------------------------------------------------------------------------------


@openrosa_view("GET", "HEAD")
def form_list(request):
    wanted = request.GET.get("formID")
    root = ET.Element("xforms", xmlns=XFORMS_LIST_NS)
    for form_id in FORM_FILES:
        if wanted and wanted != form_id:
            continue
        f = xform(form_id)
        item = ET.SubElement(root, "xform")
        for tag, text in (
            ("formID", f["id"]),
            ("name", f["title"]),
            ("version", f["version"]),
            ("hash", f["hash"]),
            ("downloadUrl", request.build_absolute_uri(reverse("openrosa:form", args=[form_id]))),
            ("manifestUrl", request.build_absolute_uri(reverse("openrosa:manifest", args=[form_id]))),
        ):
            ET.SubElement(item, tag).text = text
    return _xml_response(root)


@openrosa_view("GET", "HEAD")
def form_download(request, form_id: str):
    return _xml_response(xform(form_id)["xml"])


@openrosa_view("GET", "HEAD")
def form_manifest(request, form_id: str):
    xform(form_id)  # 404 for an unknown form
    return _xml_response(ET.Element("manifest", xmlns=MANIFEST_NS))


@openrosa_view("HEAD", "POST")
def submission(request):
    if request.method == "HEAD":
        resp = _headers(HttpResponse(status=204))
        resp["X-OpenRosa-Accept-Content-Length"] = str(settings.MAX_BODY_BYTES)
        return resp
    user = request.user
    if not roles.allows(user, roles.ADD, "observation"):
        raise Forbidden("your role or token may not submit observations")
    _read_multipart(request)
    xml_file = request.FILES.get(XML_PART)
    if xml_file is None:
        raise OpenRosaError(400, f"no {XML_PART} part in the multipart body")
    xml_bytes = xml_file.read()
    root = parse_submission(xml_bytes)
    instance = instance_id(root)
    source = source_code(user)
    # Validate on every POST, so a bad form is reported on the first part of a split one.
    to_observation(root, instance, source, [])

    files = _attachments(request)
    incomplete = (request.POST.get("*isIncomplete*") or "").strip().lower() == "yes"
    pending = Pending(user, instance)
    xml_digest = hashlib.sha256(xml_bytes).hexdigest()
    if incomplete:
        pending.add(xml_digest, files)
        return _openrosa_response(201, "part received; waiting for the rest of the submission", "submit_success")

    digests = pending.digests(xml_digest, files)
    stored = Observation.objects.filter(client_id=instance).values_list("attachments", flat=True).first()
    if stored is not None and set(digests) <= set(stored):
        # A retry that resends some or all of what is stored: the stored list is the answer.
        digests = list(stored)
    item = to_observation(root, instance, source, digests)
    register_device_source(user, source)
    result = monitoring.submit_observations([item], user, intake="openrosa")
    pending.discard()
    if result.created:
        return _openrosa_response(201, f"observation {result.ids[0]} received", "submit_success")
    return _openrosa_response(201, f"observation {result.ids[0]} already received", "submit_success")


class PartTooLarge(Exception):
    """A multipart part passed RESOLUTE_OPENROSA_MAX_ATTACHMENT_BYTES; the argument is its name."""


class _PartSizeLimit(FileUploadHandler):
    """First of the upload handlers: stops a part as soon as it passes the per-attachment limit,
    before the rest of it is spooled to disk. Passes every chunk on unchanged."""

    def __init__(self, request, limit: int):
        super().__init__(request)
        self.limit = limit

    def receive_data_chunk(self, raw_data, start):
        if start + len(raw_data) > self.limit:
            raise PartTooLarge(self.file_name or self.field_name)
        return raw_data

    def file_complete(self, file_size):
        return None


def _read_multipart(request) -> None:
    """Parse the multipart body, or refuse it with a 413 when a part is too large or there are
    too many parts (a multipart bomb), having stored nothing (the upload handlers' spooled
    files are dropped)."""
    limit = settings.OPENROSA_MAX_ATTACHMENT_BYTES
    request.upload_handlers.insert(0, _PartSizeLimit(request, limit))
    try:
        request.FILES  # noqa: B018  (parses POST and FILES together)
    except PartTooLarge as exc:
        _drop_uploads(request)
        raise OpenRosaError(413, f"part {str(exc)[:100]!r} is over {limit} bytes (RESOLUTE_OPENROSA_MAX_ATTACHMENT_BYTES)") from None
    except TooManyFilesSent:
        _drop_uploads(request)
        raise OpenRosaError(413, f"more than {settings.DATA_UPLOAD_MAX_NUMBER_FILES} files in one submission (RESOLUTE_MAX_UPLOAD_FILES)") from None
    except TooManyFieldsSent:
        _drop_uploads(request)
        raise OpenRosaError(413, f"more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields in one submission") from None
    except RequestDataTooBig:
        _drop_uploads(request)
        raise OpenRosaError(413, f"the form fields are over {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes") from None
    except MultiPartParserError as exc:
        _drop_uploads(request)
        raise OpenRosaError(400, f"malformed multipart body: {exc}") from None


def _drop_uploads(request) -> None:
    # The part being read when parsing stopped is not in request.FILES yet: its handler still
    # holds its temporary file.
    for handler in request.upload_handlers:
        handler.upload_interrupted()


def _attachments(request) -> dict[str, tuple[str, object]]:
    """filename -> (sha256, uploaded file) for every part but the XML."""
    out = {}
    for part, uploads in request.FILES.lists():
        if part == XML_PART:
            continue
        for f in uploads:
            h = hashlib.sha256()
            for chunk in f.chunks():
                h.update(chunk)
            out[f.name or part] = (h.hexdigest(), f)
    return out


# --- the submission document ------------------------------------------------------------------


def parse_submission(data: bytes) -> ET.Element:
    """The submission's root element. DTDs are refused outright: OpenRosa submissions never
    carry one, and that closes external entities and entity expansion alike."""
    try:
        root = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise OpenRosaError(400, f"refused XML: {type(exc).__name__}") from None
    except ET.ParseError as exc:
        raise OpenRosaError(400, f"malformed XML: {exc}") from None
    if root.get("id") not in FORM_FILES:
        raise OpenRosaError(400, f"unknown form id {root.get('id')!r}")
    return root


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(el: ET.Element | None, name: str) -> ET.Element | None:
    if el is None:
        return None
    return next((c for c in el if _local(c.tag) == name), None)


def _value(root: ET.Element, name: str) -> str | None:
    el = _child(root, name)
    text = (el.text or "").strip() if el is not None else ""
    return text or None


def instance_id(root: ET.Element) -> uuid.UUID:
    el = _child(_child(root, "meta"), "instanceID")
    text = (el.text or "").strip() if el is not None else ""
    if not text:
        raise OpenRosaError(400, "meta/instanceID is missing")
    try:
        return uuid.UUID(text.removeprefix("uuid:"))
    except ValueError:
        raise OpenRosaError(400, f"meta/instanceID {text!r} is not uuid:<UUID>") from None


def _geopoint(text: str, field: str) -> tuple[float, float, float]:
    """'lat lon alt accuracy' -> (lat, lon, accuracy); accuracy 0 when absent (placed by hand)."""
    try:
        parts = [float(p) for p in text.split()]
    except ValueError:
        parts = []
    if len(parts) < 2:
        raise InvalidInput("bad geopoint", [{"field": field, "message": "expected 'lat lon [alt [accuracy]]'"}])
    return parts[0], parts[1], parts[3] if len(parts) >= 4 else 0.0


RANGE_BAND = re.compile(r"^r(\d+)_(\d+)$")


def source_code(user) -> str:
    """The source code of the user's device(s): one per user."""
    return f"ODK-{user.username}"[:64]


def register_device_source(user, code: str) -> None:
    """Register the device source the first time it is used (never overwrite later edits)."""
    if not Source.objects.filter(code=code).exists():
        monitoring.register_source("openrosa", code, f"ODK device of {user.username}", "observation_post", GRADE[0], int(GRADE[1]), user.nation or "")


def to_observation(root: ET.Element, instance: uuid.UUID, source: str, attachments: list[str]) -> ObservationIn:
    """Map a submission of forms/observation.md onto the observation wire format."""
    payload: dict = {
        "client_id": str(instance),
        "channel": _value(root, "channel"),
        "observed_from": _value(root, "observed_from"),
        "observed_to": _value(root, "observed_to"),
        "event_type": _value(root, "event_type"),
        "perception": _value(root, "perception"),
        "narrative": _value(root, "narrative") or "",
        "attachments": attachments,
        "source": source,
        "grade": GRADE,
        "chain": [source],
    }
    if (count := _value(root, "count")) is not None:
        payload["count"] = count
    if (weapon := _value(root, "weapon_class")) is not None:
        payload["weapon_class"] = weapon
    if (observer := _value(root, "observer")) is not None:
        lat, lon, acc = _geopoint(observer, "observer")
        payload["observer"] = {"lat": lat, "lon": lon, "accuracy_m": acc}
    fix = _value(root, "fix") or ("point" if _value(root, "event_location") else "sector")
    if fix == "point":
        lat, lon, _ = _geopoint(_value(root, "event_location") or "", "event_location")
        payload["location"] = {"lat": lat, "lon": lon, "error_m": _value(root, "event_error_m")}
    else:
        direction: dict = {"compass_sector": _value(root, "compass_sector")}
        band = _value(root, "range_band")
        if band is not None:
            m = RANGE_BAND.match(band)
            if not m:
                raise InvalidInput("bad range band", [{"field": "range_band", "message": "expected r<min>_<max> (metres)"}])
            direction.update(range_min_m=int(m[1]), range_max_m=int(m[2]))
        payload["direction"] = direction
    try:
        return ObservationIn.model_validate(payload)
    except ValidationError as exc:
        raise InvalidInput("the submission is not a valid observation", pydantic_errors(exc)) from None


# --- split submissions ------------------------------------------------------------------------


class Pending:
    """The parts of a submission sent over several POSTs, until the last one arrives:
    DATA_DIR/openrosa-pending/<user id>-<instance hex>/ with each attachment in a file named by
    its SHA-256 and index.json = {"xml": sha256 of the XML, "files": {filename: sha256}}."""

    def __init__(self, user, instance: uuid.UUID):
        self.root = Path(settings.DATA_DIR) / "openrosa-pending"
        self.dir = self.root / f"{user.pk}-{instance.hex}"

    def _index(self) -> dict:
        try:
            return json.loads((self.dir / "index.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"xml": None, "files": {}}

    def _check_xml(self, index: dict, xml_digest: str) -> None:
        if index["xml"] is not None and index["xml"] != xml_digest:
            raise Conflict("this instanceID's earlier parts came with a different submission XML")

    def add(self, xml_digest: str, files: dict) -> None:
        self._sweep()
        self.dir.mkdir(parents=True, exist_ok=True)
        index = self._index()
        self._check_xml(index, xml_digest)
        index["xml"] = xml_digest
        for name, (digest, f) in files.items():
            target = self.dir / digest
            if not target.exists():
                tmp = self.dir / f".{digest}.{uuid.uuid4().hex}"
                with open(tmp, "wb") as out:
                    out.writelines(f.chunks())
                os.replace(tmp, target)
            index["files"][name] = digest
        tmp = self.dir / f".index.{uuid.uuid4().hex}"
        tmp.write_text(json.dumps(index), encoding="utf-8")
        os.replace(tmp, self.dir / "index.json")

    def digests(self, xml_digest: str, files: dict) -> list[str]:
        """Every attachment's SHA-256, earlier parts and this one, in filename order, once each."""
        index = self._index()
        self._check_xml(index, xml_digest)
        names = dict(index["files"])
        names.update({name: digest for name, (digest, _) in files.items()})
        return list(dict.fromkeys(names[n] for n in sorted(names)))

    def discard(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def _sweep(self) -> None:
        """Forget submissions whose last part never came."""
        if not self.root.is_dir():
            return
        cutoff = time.time() - PENDING_TTL_S
        for d in self.root.iterdir():
            try:
                if d.is_dir() and d.stat().st_mtime < cutoff:
                    shutil.rmtree(d, ignore_errors=True)
            except OSError:
                pass


urlpatterns = [
    path("formList", form_list, name="form-list"),
    path("forms/<slug:form_id>.xml", form_download, name="form"),
    path("forms/<slug:form_id>/manifest", form_manifest, name="manifest"),
    path("submission", submission, name="submission"),
]

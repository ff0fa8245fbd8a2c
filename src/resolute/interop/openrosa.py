"""OpenRosa 1.0 server for ODK Collect, KoboCollect and Enketo: form list, form download,
manifest and submission.

Monitors in the field already carry ODK Collect; this lets them fill in the observation form
(forms/observation.md, an XLSForm converted with pyxform at first use) offline and send it when
they have a signal. Each submission becomes one `ObservationIn` and goes through the same
intake service as every other channel (`monitoring.services.submit_observations`), so it is
validated, idempotent per instanceID and audited the same way.

Authentication: HTTP Basic with the user's username and one of their API tokens as the
password (a `Bearer` header is accepted too). Digest is not offered: a Digest server must know
the password (or HA1 = MD5(user:realm:password)) for every user, and only SHA-256 digests of
tokens are stored, so Digest would need a new stored secret. Basic must therefore only run over
HTTPS (ODK Collect refuses to send Basic credentials over plain HTTP anyway).

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
import functools
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path
from xml.etree import ElementTree as ET

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from django.conf import settings
from django.http import HttpResponse
from django.urls import path, reverse
from django.utils.http import http_date
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError

from resolute.accounts import roles
from resolute.accounts.services import authenticate_token
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
REALM = "Resolute OpenRosa"
XFORMS_LIST_NS = "http://openrosa.org/xforms/xformsList"
MANIFEST_NS = "http://openrosa.org/xforms/xformsManifest"
RESPONSE_NS = "http://openrosa.org/http/response"
XML = "text/xml; charset=utf-8"
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
PENDING_TTL_S = 7 * 24 * 3600
# What every device submission is graded and labelled as (the brief's defaults for a
# monitor's own report through a device).
GRADE = "B2"
XML_PART = "xml_submission_file"


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


def _authenticate(request):
    """The user behind the Authorization header (Basic username:token, or Bearer token), or None."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return authenticate_token(value.strip())
    if scheme == "basic":
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
    return None


def _challenge() -> HttpResponse:
    resp = _openrosa_response(401, "authentication required: your username and an API token as the password")
    resp["WWW-Authenticate"] = f'Basic realm="{REALM}", charset="UTF-8"'
    return resp


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
            user = _authenticate(request)
            if user is None:
                return _challenge()
            request.user = user
            try:
                return view(request, *args, **kwargs)
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
    xml_file = request.FILES.get(XML_PART)
    if xml_file is None:
        raise OpenRosaError(400, f"no {XML_PART} part in the multipart body")
    if xml_file.size > MAX_ATTACHMENT_BYTES:
        raise OpenRosaError(413, f"the submission XML is over {MAX_ATTACHMENT_BYTES} bytes")
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


def _attachments(request) -> dict[str, tuple[str, object]]:
    """filename -> (sha256, uploaded file) for every part but the XML."""
    out = {}
    for part, uploads in request.FILES.lists():
        if part == XML_PART:
            continue
        for f in uploads:
            if f.size > MAX_ATTACHMENT_BYTES:
                raise OpenRosaError(413, f"attachment {f.name!r} is over {MAX_ATTACHMENT_BYTES} bytes")
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

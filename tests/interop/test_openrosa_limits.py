"""Oversized and hostile OpenRosa submissions are refused with 413 and leave nothing behind:
(a) a declared Content-Length over RESOLUTE_MAX_BODY_BYTES, (b) a multipart bomb of thousands
of tiny parts, (c) one part over RESOLUTE_OPENROSA_MAX_ATTACHMENT_BYTES, (d) a chunked body
without Content-Length that grows past the limit, through waitress (the server `resolute serve`
runs) and through a server that passes an end-terminated stream on (wsgi.input_terminated).

"Nothing behind" means no observation, no audit entry, no held part of a split submission and
no spooled upload file left in the upload directory."""

from __future__ import annotations

import io
import json
import threading
import uuid
from pathlib import Path

import pytest
import requests

from tests.interop.test_openrosa import JPEG, Collect, basic, new_instance, response_message, sector_answers

SUBMISSION = "/openrosa/submission"


@pytest.fixture(autouse=True)
def _dirs(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    # Every upload above 1 kB is spooled to a file here, so a leftover would show.
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    (tmp_path / "uploads").mkdir()
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024


@pytest.fixture
def monitor(users, tokens):
    return basic(users["monitor"].username, tokens["monitor"])


@pytest.fixture
def collect(client, monitor):
    c = Collect(client, monitor)
    c.fetch_form()
    return c


@pytest.fixture
def nothing_written(settings, db):
    """Asserts, after the test, that nothing was stored."""
    from resolute.audit.models import AuditEntry
    from resolute.monitoring.models import Observation

    before = AuditEntry.objects.count()
    yield
    assert Observation.objects.count() == 0
    assert AuditEntry.objects.count() == before
    assert not (settings.DATA_DIR / "openrosa-pending").exists()
    assert list(Path(settings.FILE_UPLOAD_TEMP_DIR).iterdir()) == []


def multipart(parts: list[tuple[str, str | None, bytes]]) -> tuple[bytes, str]:
    """A multipart/form-data body from (field name, filename or None, content)."""
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for name, filename, content in parts:
        out.write(f"--{boundary}\r\n".encode())
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out.write(f"Content-Disposition: {disposition}\r\n".encode())
        if filename:
            out.write(b"Content-Type: application/octet-stream\r\n")
        out.write(b"\r\n" + content + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def is_openrosa_413(r) -> bool:
    return r.status_code == 413 and r["X-OpenRosa-Version"] == "1.0" and r["Content-Type"].startswith("text/xml")


def is_problem_413(status: int, content_type: str, body: bytes) -> bool:
    if status != 413 or content_type != "application/problem+json":
        return False
    doc = json.loads(body)
    return doc["status"] == 413 and "RESOLUTE_MAX_BODY_BYTES" in doc["detail"]


# (a) -----------------------------------------------------------------------------------------------


def test_content_length_over_the_limit_is_413_before_parsing(client, collect, monitor, settings, nothing_written):
    settings.MAX_BODY_BYTES = 64 * 1024
    body, ctype = multipart([("xml_submission_file", "submission.xml", collect.fill(new_instance(), **sector_answers())),
                             ("photo.jpg", "photo.jpg", b"\xff" * (100 * 1024))])  # fmt: skip
    r = client.post(SUBMISSION, body, content_type=ctype, **monitor)
    assert is_problem_413(r.status_code, r["Content-Type"], r.content), r.content
    assert r.json()["errors"] == [{"field": "(body)", "message": "too large"}]
    # HEAD announces the same limit, so Collect splits its submissions below it.
    assert int(client.head(SUBMISSION, **monitor)["X-OpenRosa-Accept-Content-Length"]) == 64 * 1024


# (b) -----------------------------------------------------------------------------------------------


def test_thousands_of_tiny_file_parts_are_413(client, collect, monitor, nothing_written):
    xml = collect.fill(new_instance(), **sector_answers())
    parts = [("xml_submission_file", "submission.xml", xml)] + [(f"p{i}.jpg", f"p{i}.jpg", b"x") for i in range(3000)]
    body, ctype = multipart(parts)
    r = client.post(SUBMISSION, body, content_type=ctype, **monitor)
    assert is_openrosa_413(r), (r.status_code, r.content)
    assert "files" in response_message(r) and "RESOLUTE_MAX_UPLOAD_FILES" in response_message(r)


def test_thousands_of_tiny_fields_are_413(client, collect, monitor, nothing_written):
    xml = collect.fill(new_instance(), **sector_answers())
    parts = [("xml_submission_file", "submission.xml", xml)] + [(f"f{i}", None, b"1") for i in range(5000)]
    body, ctype = multipart(parts)
    r = client.post(SUBMISSION, body, content_type=ctype, **monitor)
    assert is_openrosa_413(r), (r.status_code, r.content)
    assert "fields" in response_message(r)


def test_the_file_count_limit_is_a_setting(client, collect, monitor, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 3
    xml = collect.fill(new_instance(), **sector_answers())
    ok, ctype = multipart([("xml_submission_file", "s.xml", xml), ("a.jpg", "a.jpg", JPEG), ("b.jpg", "b.jpg", JPEG + b"b")])
    assert client.post(SUBMISSION, ok, content_type=ctype, **monitor).status_code == 201
    xml = collect.fill(new_instance(), **sector_answers())
    over, ctype = multipart([("xml_submission_file", "s.xml", xml)] + [(f"{i}.jpg", f"{i}.jpg", JPEG) for i in range(3)])
    assert is_openrosa_413(client.post(SUBMISSION, over, content_type=ctype, **monitor))


# (c) -----------------------------------------------------------------------------------------------


def test_one_attachment_over_the_part_limit_is_413(client, collect, settings, nothing_written):
    settings.OPENROSA_MAX_ATTACHMENT_BYTES = 50_000
    r = collect.post(collect.fill(new_instance(), **sector_answers()), {"photo.jpg": JPEG, "video.mp4": b"\x00" * 200_000})
    assert is_openrosa_413(r), (r.status_code, r.content)
    message = response_message(r)
    assert "video.mp4" in message and "50000" in message and "RESOLUTE_OPENROSA_MAX_ATTACHMENT_BYTES" in message


def test_an_oversized_part_of_a_split_submission_holds_nothing(client, collect, settings, nothing_written):
    settings.OPENROSA_MAX_ATTACHMENT_BYTES = 50_000
    r = collect.post(collect.fill(new_instance(), **sector_answers()), {"big.jpg": b"\xff" * 60_000}, incomplete=True)
    assert is_openrosa_413(r)


def test_an_oversized_submission_xml_is_413(client, collect, settings, nothing_written):
    settings.OPENROSA_MAX_ATTACHMENT_BYTES = 5_000
    xml = collect.fill(new_instance(), **sector_answers(narrative="n" * 6_000))
    assert is_openrosa_413(collect.post(xml))


def test_just_under_the_part_limit_is_accepted(client, collect, settings):
    from resolute.monitoring.models import Observation

    settings.OPENROSA_MAX_ATTACHMENT_BYTES = len(JPEG)
    assert collect.post(collect.fill(new_instance(), **sector_answers()), {"photo.jpg": JPEG}).status_code == 201
    assert Observation.objects.count() == 1


# (d) -----------------------------------------------------------------------------------------------


def _chunked(client, body: bytes, ctype: str, auth: dict, terminated: bool = True):
    """A request as a server that does not de-chunk hands it on: no Content-Length, the body
    readable to its end (wsgi.input_terminated, as gunicorn sets it)."""
    extra = {"CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(body), **auth}
    if terminated:
        extra["wsgi.input_terminated"] = True
    return client.generic("POST", SUBMISSION, body, content_type=ctype, **extra)


def test_chunked_body_over_the_limit_is_413(client, collect, monitor, settings, nothing_written):
    settings.MAX_BODY_BYTES = 64 * 1024
    body, ctype = multipart([("xml_submission_file", "s.xml", collect.fill(new_instance(), **sector_answers())),
                             ("photo.jpg", "photo.jpg", b"\xff" * (100 * 1024))])  # fmt: skip
    r = _chunked(client, body, ctype, monitor)
    assert is_problem_413(r.status_code, r["Content-Type"], r.content), r.content


def test_chunked_body_under_the_limit_is_read(client, collect, monitor, settings):
    from resolute.monitoring.models import Observation

    settings.MAX_BODY_BYTES = 64 * 1024
    body, ctype = multipart([("xml_submission_file", "s.xml", collect.fill(new_instance(), **sector_answers())), ("photo.jpg", "photo.jpg", JPEG)])
    r = _chunked(client, body, ctype, monitor)
    assert r.status_code == 201, r.content
    assert Observation.objects.get().attachments


def test_chunked_body_a_server_cannot_read_is_411_not_lost(client, collect, monitor, nothing_written):
    body, ctype = multipart([("xml_submission_file", "s.xml", collect.fill(new_instance(), **sector_answers()))])
    r = _chunked(client, body, ctype, monitor, terminated=False)
    assert r.status_code == 411 and r["Content-Type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "Content-Length"


@pytest.fixture
def waitress_url():
    """The project's own server (waitress, as `resolute serve` runs it) in a thread."""
    import waitress
    from django.core.wsgi import get_wsgi_application

    server = waitress.create_server(get_wsgi_application(), host="127.0.0.1", port=0, threads=2, ident="resolute-test")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_chunked_uploads_through_waitress(waitress_url, users, tokens, settings):
    """Waitress de-chunks the body and states its length: a big one gets the middleware's 413,
    a small one is an ordinary submission."""
    from resolute.interop.openrosa import xform
    from resolute.monitoring.models import Observation

    settings.MAX_BODY_BYTES = 256 * 1024
    collect = Collect(None, {})
    collect.template = _instance_template(xform("resolute_observation")["xml"])
    auth = requests.auth.HTTPBasicAuth("monitor-user", tokens["monitor"])

    def send(attachment: bytes) -> requests.Response:
        body, ctype = multipart([("xml_submission_file", "s.xml", collect.fill(new_instance(), **sector_answers())), ("photo.jpg", "photo.jpg", attachment)])
        chunks = (body[i : i + 8192] for i in range(0, len(body), 8192))  # a generator: sent chunked
        return requests.post(waitress_url + SUBMISSION, data=chunks, headers={"Content-Type": ctype, "X-OpenRosa-Version": "1.0"}, auth=auth, timeout=60)

    big = send(b"\xff" * (300 * 1024))
    assert big.request.headers.get("Transfer-Encoding") == "chunked" and "Content-Length" not in big.request.headers
    assert is_problem_413(big.status_code, big.headers["Content-Type"], big.content), big.content
    assert Observation.objects.count() == 0

    small = send(JPEG)
    assert small.status_code == 201, small.content
    assert Observation.objects.count() == 1


def _instance_template(form_xml: bytes) -> str:
    from xml.etree import ElementTree as ET

    xf, h = "http://www.w3.org/2002/xforms", "http://www.w3.org/1999/xhtml"
    instance = ET.fromstring(form_xml).find(f"{{{h}}}head/{{{xf}}}model/{{{xf}}}instance")
    return ET.tostring(next(iter(instance)), encoding="unicode")

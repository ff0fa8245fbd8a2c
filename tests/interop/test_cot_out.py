"""Incidents published as CoT reach a TAK server and parse as CoT; only what the reader sees."""

from __future__ import annotations

import datetime as dt
import socket
import threading

import pytest

from resolute.interop import cot, cot_out

pytestmark = pytest.mark.django_db


def _server():
    """A one-connection TCP server collecting what it receives (stands in for a TAK server)."""
    srv = socket.create_server(("127.0.0.1", 0))
    got = bytearray()

    def run():
        conn, _ = srv.accept()
        with conn:
            while chunk := conn.recv(65536):
                got.extend(chunk)
        srv.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return srv.getsockname()[1], got, t


def test_published_incidents_are_cot_a_tak_client_understands(users, capsys):
    from resolute.cli import main
    from resolute.core.markings import Classification
    from resolute.monitoring.models import Incident

    now = dt.datetime.now(dt.timezone.utc)
    for cls, rel in ((Classification.RESTRICTED, "|ALL|"), (Classification.SECRET, "|USA|")):
        Incident.objects.create(
            event_type="explosion_impact", first_seen=now - dt.timedelta(hours=2), last_seen=now - dt.timedelta(hours=1), lat=47.6, lon=35.9,
            fix_ok=True, error_m=350.0, confidence=0.9, confidence_word="very likely", classification=cls, releasable_to=rel, tlp="GREEN",
        )  # fmt: skip
    port, got, t = _server()
    assert main(["tak-publish", "--url", f"tcp://127.0.0.1:{port}", "--as", "monitor-user"]) == 0  # FRA, RESTRICTED
    t.join(5)
    splitter = cot.EventSplitter()
    events = [cot.parse_event(x) for x in splitter.feed(bytes(got))]
    assert len(events) == 1  # the SECRET REL USA incident is not sent
    e = events[0]
    assert e.type == "b-m-p-s-m" and e.uid.startswith("resolute-incident-") and e.ce == pytest.approx(350.0)
    assert "very likely" in e.remarks and (round(e.lat, 4), round(e.lon, 4)) == (47.6, 35.9)
    with pytest.raises(ValueError):
        cot_out.publish([], "http://example.org/")

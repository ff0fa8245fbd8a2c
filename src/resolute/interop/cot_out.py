"""Publishing incidents as Cursor on Target to a TAK server, so that units see them on their
devices. What is published is what one configured reader may see (restrict()), never more."""

from __future__ import annotations

import datetime as dt
import socket
import ssl as ssl_module
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

# CoT type of a reported event on the map: b-m-p-s-m is a spot marker every TAK client draws.
COT_TYPE = "b-m-p-s-m"
STALE = dt.timedelta(hours=24)


def _time(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"


def incident_event(feature: dict, now: dt.datetime) -> bytes:
    """One incident feature (monitoring.serializers.incident_feature) as a CoT event. The uid is
    stable per incident, so a re-publication updates the marker instead of adding one; `ce` is
    the 95 % error radius in metres (CoT's circular error), 9999999 when unknown."""
    p = feature["properties"]
    lon, lat = feature["geometry"]["coordinates"]
    ce = p.get("error_m")
    remarks = f"Resolute incident {feature['id']}: {p['event_type'].replace('_', ' ')}, {p.get('confidence_word') or 'unscored'}"
    if p.get("attribution"):
        remarks += f"; {p['attribution'].replace('_', ' ')} (origin {p.get('origin_side') or '?'}, impact {p.get('impact_side') or '?'})"
    remarks += f"; {p['marking']['classification']} TLP:{p['marking']['tlp']}"
    uid = quoteattr(f"resolute-incident-{feature['id']}")
    callsign = quoteattr(f"INC-{feature['id']}")
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><event version="2.0" uid={uid} type="{COT_TYPE}" how="h-e" '
        f'time="{_time(now)}" start="{_time(now)}" stale="{_time(now + STALE)}">'
        f'<point lat="{lat:.7f}" lon="{lon:.7f}" hae="9999999.0" ce="{(ce if ce else 9999999.0):.1f}" le="9999999.0"/>'
        f'<detail><contact callsign={callsign}/><remarks>{escape(remarks)}</remarks></detail></event>'
    ).encode("utf-8")


def publish(features: list[dict], cot_url: str, *, context: ssl_module.SSLContext | None = None, timeout: float = 10.0) -> int:
    """Send the incidents to `cot_url` (tcp://host:port, or tls://host:port with `context`).
    Returns the number of events sent; raises OSError when the server cannot be reached."""
    url = urlsplit(cot_url)
    if url.scheme not in ("tcp", "tls") or not url.hostname or not url.port:
        raise ValueError("cot_url must be tcp://host:port or tls://host:port")
    now = dt.datetime.now(dt.timezone.utc)
    payload = b"".join(incident_event(f, now) for f in features)
    with socket.create_connection((url.hostname, url.port), timeout=timeout) as raw:
        if url.scheme == "tls":
            ctx = context or ssl_module.create_default_context()
            with ctx.wrap_socket(raw, server_hostname=url.hostname) as s:
                s.sendall(payload)
        else:
            raw.sendall(payload)
    return len(features)

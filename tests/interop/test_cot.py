"""Cursor on Target: the stream splitter, the safe parser, the mapping to observations, and the
TAK listener driven by the real pytak client over TCP and TLS.

The CoT samples are written by hand after the CoT 2.0 event schema and what ATAK puts in a
detail (contact, remarks, link, archive, colour, precision location). No test asserts a timing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import re
import threading
import uuid

import pytest

from resolute.core import vocabulary
from resolute.interop import cot, tak
from resolute.interop.cot import CotError, EventSplitter, parse_event, to_observation
from resolute.monitoring.schemas import ObservationIn

DECL = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def event(uid="e1", cot_type="b-d-i-m", how="h-e", *, time="2025-03-01T21:40:00Z", stale="2025-03-01T21:42:00Z",
          lat="47.6", lon="35.8", ce="25", detail="") -> bytes:
    return (
        f'<event version="2.0" uid="{uid}" type="{cot_type}" how="{how}" time="{time}" start="{time}" stale="{stale}">'
        f'<point lat="{lat}" lon="{lon}" hae="9999999.0" ce="{ce}" le="9999999.0"/>'
        f"{detail}</event>"
    ).encode()


def remarks(text: str, callsign: str = "MON-3") -> str:
    return f'<detail><contact callsign="{callsign}"/><remarks>{text}</remarks></detail>'


# An ATAK spot-map marker as a monitor drops it: hand-placed, no error estimate, stale a year on.
SPOT_MARKER = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<event version="2.0" uid="9f3c2a1e-5b7d-4e8a-9c61-2d4f8e7a1b30" type="b-m-p-s-m" how="h-g-i-g-o" time="2025-03-01T21:45:12.123Z" start="2025-03-01T21:45:12.123Z" stale="2026-03-01T21:45:12.123Z">
  <point lat="47.61234" lon="35.81234" hae="9999999.0" ce="9999999.0" le="9999999.0"/>
  <detail>
    <status readiness="true"/>
    <archive/>
    <link uid="ANDROID-a1b2c3d4e5f6" production_time="2025-03-01T21:45:10.000Z" type="a-f-G-U-C" parent_callsign="MON-TEAM-3" relation="p-p"/>
    <contact callsign="R 1"/>
    <remarks>Heard 7 impacts, 120mm mortar, 1.5 km SSE of the OP</remarks>
    <color argb="-65536"/>
    <precisionlocation altsrc="DTED0"/>
    <usericon iconsetpath="COT_MAPPING_SPOTMAP/b-m-p-s-m/-65536"/>
  </detail>
</event>"""

# A weapon-locating radar's point of origin, machine-fused, with a time in a local zone.
RADAR_POO = b"""<event version="2.0" uid="WLR-2.track.0451" type="b-d-l-m" how="m-f" time="2025-03-01T23:40:00.5+02:00" start="2025-03-01T23:40:00.5+02:00" stale="2025-03-01T23:50:00+02:00"><point lat="47.7012" lon="35.9034" hae="212.4" ce="45.0" le="12.0"/><detail><contact callsign="WLR-2"/><remarks>fired from treeline</remarks></detail></event>"""

# A hostile mortar marked from the 2525 palette, seven fractional digits (WinTAK writes them).
HOSTILE_MORTAR = b"""<event version="2.0" uid="ANDROID-77.m1" type="a-h-G-E-W-O" how="h-e" time="2025-03-01T08:00:00.0000000Z" start="2025-03-01T08:00:00.0000000Z" stale="2025-03-01T08:00:30.0000000Z"><point lat="47.55" lon="35.70" hae="-12.5" ce="30" le="9999999.0"/><detail><contact callsign="PATROL-UKR-4"/><remarks>2 mortars in a firing position, seen and heard</remarks></detail></event>"""

# A friendly position report (PLI) and a ping: not reports.
FRIENDLY_PLI = b"""<event version="2.0" uid="ANDROID-a1b2c3d4e5f6" type="a-f-G-U-C" how="m-g" time="2025-03-01T21:45:00Z" start="2025-03-01T21:45:00Z" stale="2025-03-01T21:51:00Z"><point lat="47.6" lon="35.8" hae="110" ce="4.9" le="9999999.0"/><detail><takv device="SM-G998B" platform="ATAK-CIV" os="33" version="4.10.0"/><contact endpoint="*:-1:stcp" callsign="MON-TEAM-3"/><__group name="Cyan" role="Team Member"/><status battery="88"/><track course="91.5" speed="0.0"/></detail></event>"""
PING = b"""<event version="2.0" uid="ANDROID-a1b2c3d4e5f6-ping" type="t-x-c-t" how="h-g-i-g-o" time="2025-03-01T21:45:00Z" start="2025-03-01T21:45:00Z" stale="2025-03-01T21:45:20Z"><point lat="0.0" lon="0.0" hae="0.0" ce="9999999.0" le="9999999.0"/><detail/></event>"""


# ================================================================================ splitter

THREE = [
    event("s1", detail=remarks("a &gt; b, 'quoted' \"too\"")),
    # single quotes, a '>' inside an attribute value, whitespace in the end tag
    (
        b"<event version='2.0' uid='s2>x' type='t-x-c-t' how='m-g' time='2025-03-01T21:40:00Z'>"
        b"<point lat='1' lon='2' hae='0' ce='1' le='1'/></event >"
    ),
    # self-closing
    b'<event version="2.0" uid="s3" type="b-d" time="2025-03-01T21:40:00Z"/>',
]
STREAM = DECL + THREE[0] + b"\n" + DECL + THREE[1] + b"\r\n  " + THREE[2] + b"\n"


def test_every_chunk_boundary_gives_the_same_events():
    for cut in range(len(STREAM) + 1):
        s = EventSplitter()
        assert s.feed(STREAM[:cut]) + s.feed(STREAM[cut:]) == THREE, cut
        assert (s.garbage_bytes, s.oversized, s.pending) == (0, 0, b"")


def test_byte_by_byte_and_two_cuts():
    s = EventSplitter()
    assert [e for b in STREAM for e in s.feed(bytes([b]))] == THREE
    for i in range(0, len(STREAM), 5):
        for j in range(i, len(STREAM), 11):
            s = EventSplitter()
            assert s.feed(STREAM[:i]) + s.feed(STREAM[i:j]) + s.feed(STREAM[j:]) == THREE


def test_garbage_between_events_is_skipped_and_counted():
    junk = [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\xbf\x01\x02\x03", b"<events>not one</events>", b"<!-- note -->"]
    stream = junk[0] + THREE[0] + junk[1] + DECL + THREE[1] + junk[2] + THREE[2] + junk[3] + THREE[0]
    expected = sum(len(re.sub(rb"\s+", b"", j)) for j in junk)
    for cut in range(0, len(stream) + 1, 3):
        s = EventSplitter()
        assert s.feed(stream[:cut]) + s.feed(stream[cut:]) == THREE + [THREE[0]]
        assert s.garbage_bytes == expected, cut


def test_oversized_event_is_dropped_and_the_stream_goes_on():
    big = event("big", detail=remarks("x" * 70_000))
    stream = THREE[0] + big + THREE[1] + big + THREE[2]
    for size in (len(stream), 4096, 1000, 333):
        s = EventSplitter(max_event_bytes=64 * 1024)
        out = [e for i in range(0, len(stream), size) for e in s.feed(stream[i : i + size])]
        assert out == THREE, size
        assert s.oversized == 2 and s.garbage_bytes == 0
    # the limit is on the whole event, whole or in pieces
    s = EventSplitter(max_event_bytes=len(THREE[0]))
    assert s.feed(THREE[0] + THREE[0][:-1] + b" ") == [THREE[0]]


class CountingPattern:
    """Wraps a compiled pattern and adds up the bytes each search or match examined."""

    def __init__(self, pattern, counter):
        self.pattern, self.counter = pattern, counter

    def search(self, buf, pos=0):
        m = self.pattern.search(buf, pos)
        self.counter[0] += (m.end() if m else len(buf)) - pos
        return m

    def match(self, buf, pos=0):
        m = self.pattern.match(buf, pos)
        self.counter[0] += (m.end() if m else len(buf)) - pos
        return m


def test_splitting_is_linear_in_the_stream(monkeypatch):
    # No timing: count the bytes the scanners examine. Feeding byte by byte is the worst case for
    # a splitter that rescans its buffer (quadratic: ~n²/2); this one rescans a bounded tail.
    scanned = [0]
    for name in ("_OPEN", "_TAG_TOKEN", "_BODY_TOKEN", "_START_TAG_REST"):
        monkeypatch.setattr(cot, name, CountingPattern(getattr(cot, name), scanned))
    monkeypatch.setattr(cot, "_QUOTE_END", {k: CountingPattern(v, scanned) for k, v in cot._QUOTE_END.items()})
    big = event("big", detail=remarks("y" * 60_000))
    stream = STREAM + big + STREAM
    for size in (1, 7, 4096):
        scanned[0] = 0
        s = EventSplitter()
        out = [e for i in range(0, len(stream), size) for e in s.feed(stream[i : i + size])]
        assert out == THREE + [big] + THREE
        assert scanned[0] <= 32 * len(stream), (size, scanned[0] / len(stream))


def test_truncated_tail_stays_pending():
    s = EventSplitter()
    assert s.feed(THREE[0] + THREE[1][:50]) == [THREE[0]]
    assert s.pending == THREE[1][:50]
    assert s.feed(THREE[1][50:]) == [THREE[1]] and s.pending == b""
    s = EventSplitter()
    s.feed(b'<event uid="a" type=')  # cut inside the start tag
    assert s.pending == b'<event uid="a" type='


def test_an_event_cut_short_by_the_next_is_handed_over_for_rejection():
    cut_short = b'<event version="2.0" uid="cut" type="b-d-i-m"><point lat="1"'
    broken_tag = b'<event version="2.0" uid="open'
    s = EventSplitter()
    out = s.feed(cut_short + THREE[0] + broken_tag + THREE[1])
    assert out == [cut_short, THREE[0], broken_tag, THREE[1]]
    for doc in (out[0], out[2]):
        with pytest.raises(CotError):
            parse_event(doc)


# ================================================================================== parser


def test_parse_an_atak_spot_marker():
    ev = parse_event(SPOT_MARKER)
    assert (ev.uid, ev.type, ev.how) == ("9f3c2a1e-5b7d-4e8a-9c61-2d4f8e7a1b30", "b-m-p-s-m", "h-g-i-g-o")
    assert ev.time == dt.datetime(2025, 3, 1, 21, 45, 12, 123000, tzinfo=dt.UTC)
    assert ev.time.tzinfo is dt.UTC and ev.stale.year == 2026
    assert (ev.lat, ev.lon) == (47.61234, 35.81234)
    assert ev.hae is ev.ce is ev.le is None  # 9999999.0: unknown
    assert ev.callsign == "R 1"
    assert ev.remarks == "Heard 7 impacts, 120mm mortar, 1.5 km SSE of the OP"
    start = SPOT_MARKER.index(b"<detail>")
    end = SPOT_MARKER.index(b"</detail>") + len(b"</detail>")
    assert ev.detail == SPOT_MARKER[start:end]  # byte for byte, whitespace and all


def test_parse_times_heights_and_errors():
    radar = parse_event(RADAR_POO)
    assert radar.time == dt.datetime(2025, 3, 1, 21, 40, 0, 500000, tzinfo=dt.UTC)
    assert radar.time.tzinfo is dt.UTC
    assert (radar.hae, radar.ce, radar.le) == (212.4, 45.0, 12.0)
    mortar = parse_event(HOSTILE_MORTAR)
    assert mortar.time == dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
    assert mortar.hae == -12.5 and mortar.ce == 30.0 and mortar.le is None
    assert parse_event(event(ce="9999999")).ce is None
    assert parse_event(event(ce="-3")).ce is None
    naive = parse_event(event(time="2025-03-01T21:40:00", stale="2025-03-01T21:41:00"))
    assert naive.time.tzinfo is dt.UTC
    assert parse_event(PING).detail == b"<detail/>"
    assert parse_event(event(detail="")).detail == b""
    no_stale = event().replace(b' stale="2025-03-01T21:42:00Z"', b"")
    assert parse_event(no_stale).stale is None


def test_detail_behind_a_decoy_comment_is_still_the_element():
    doc = (
        b'<event version="2.0" uid="d" type="b-d-i" how="h-e" time="2025-03-01T21:40:00Z">'
        b"<!-- <detail><remarks>decoy</remarks></detail> -->"
        b'<point lat="1" lon="2" ce="5"/><detail><remarks>real</remarks></detail></event>'
    )
    ev = parse_event(doc)
    assert ev.remarks == "real"
    assert b"real" in ev.detail and b"decoy" not in ev.detail and ev.detail.startswith(b"<detail")


@pytest.mark.parametrize(
    "doc",
    [
        # XXE: an external DTD, and an external entity
        b'<?xml version="1.0"?><!DOCTYPE event SYSTEM "file:///etc/passwd">' + event(),
        b'<!DOCTYPE event [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>' + event(detail=remarks("&xxe;")),
        # billion laughs
        b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>' + event(detail=remarks("&lol3;")),
        # an entity used without a declaration (what reaches the parser once the splitter has cut
        # the DOCTYPE away)
        event(detail=remarks("&xxe;")),
    ],
    ids=["external-dtd", "external-entity", "billion-laughs", "undeclared-entity"],
)
def test_unsafe_xml_is_refused(doc):
    with pytest.raises(CotError):
        parse_event(doc)


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1", "cp1252", "koi8-r", "cp037", "utf-16", "utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("whole", [False, True], ids=["ascii-declaration", "all-encoded"])
def test_a_dtd_is_refused_in_any_encoding(encoding, whole):
    # Events without a DOCTYPE take expat's C parser (no DTD, nothing to expand or fetch); a
    # DOCTYPE hidden by an encoding must not slip onto that path.
    body = '<!DOCTYPE event [<!ENTITY x "boom">]>' + event(detail=remarks("&x;")).decode()
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>'
    doc = (declaration + body).encode(encoding) if whole else declaration.encode() + body.encode(encoding)
    with pytest.raises(CotError):
        parse_event(doc)


@pytest.mark.parametrize("doc", [SPOT_MARKER, RADAR_POO, HOSTILE_MORTAR, PING, FRIENDLY_PLI], ids=["spot", "radar", "mortar", "ping", "pli"])
def test_both_parsers_read_an_event_alike(doc, monkeypatch):
    assert cot._cannot_hold_a_dtd(doc)
    fast = parse_event(doc)
    monkeypatch.setattr(cot, "_cannot_hold_a_dtd", lambda xml: False)  # defusedxml's parser
    assert parse_event(doc) == fast


@pytest.mark.parametrize(
    "doc",
    [
        b"",
        b"<event",
        b"not xml at all",
        b'<message uid="x"/>',
        event().replace(b'<point lat="47.6" lon="35.8" hae="9999999.0" ce="25" le="9999999.0"/>', b""),
        event(lat="91"),
        event(lon="-180.5"),
        event(lat="nan"),
        event(lat="north"),
        event(uid=""),
        event(cot_type=""),
        event(time="yesterday"),
        event(time=""),
        b'<event uid="x" type="b-d" time="2025-03-01T21:40:00Z"><point lat="1" lon="2"/>\xff\xfe</event>',
    ],
)
def test_malformed_events_are_refused(doc):
    with pytest.raises(CotError):
        parse_event(doc)


# ================================================================================== mapping


def observe(doc: bytes, **kw):
    mapped = to_observation(parse_event(doc), source_code="TAK-MON-1", marking={"tlp": "AMBER"}, **kw)
    if mapped is not None:
        ObservationIn(**mapped[0])  # every mapped observation passes the intake's schema
    return mapped


def test_spot_marker_maps_to_a_located_heard_impact():
    obs, raw = observe(SPOT_MARKER)
    assert raw == parse_event(SPOT_MARKER).detail
    assert obs["client_id"] == str(uuid.uuid5(cot.COT_NAMESPACE, "9f3c2a1e-5b7d-4e8a-9c61-2d4f8e7a1b30"))
    assert obs["channel"] == "patrol"
    assert (obs["event_type"], obs["weapon_class"], obs["count"], obs["perception"]) == ("explosion_impact", "mortar", 7, "heard")
    assert obs["observer"] == {"lat": 47.61234, "lon": 35.81234, "accuracy_m": 50.0}
    assert obs["location"] == {"lat": 47.61234, "lon": 35.81234, "error_m": 100.0}
    # stale is a year on: the window is the event time plus one minute
    assert (obs["observed_from"], obs["observed_to"]) == ("2025-03-01T21:45:12.123000Z", "2025-03-01T21:46:12.123000Z")
    assert obs["narrative"] == "Heard 7 impacts, 120mm mortar, 1.5 km SSE of the OP\n[TAK R 1, CoT b-m-p-s-m]"
    assert (obs["source"], obs["grade"], obs["chain"], obs["marking"]) == ("TAK-MON-1", "B2", ["R 1"], {"tlp": "AMBER"})
    assert "direction" not in obs and "attachments" not in obs


def test_radar_point_of_origin_and_hostile_mortar():
    obs, _ = observe(RADAR_POO)
    assert (obs["channel"], obs["event_type"], obs["weapon_class"], obs["perception"]) == (
        "radar", "explosion_outgoing", "mortar", "instrument")
    assert obs["location"]["error_m"] == 45.0 and obs["observed_to"] == "2025-03-01T21:41:00.500000Z"
    obs, _ = observe(HOSTILE_MORTAR)
    assert (obs["channel"], obs["event_type"], obs["weapon_class"], obs["count"], obs["perception"]) == (
        "patrol", "weapon_beyond_withdrawal_line", "mortar", 2, "heard_and_seen")
    # stale 30 s after time: the window ends at stale
    assert obs["observed_to"] == "2025-03-01T08:00:30Z"


@pytest.mark.parametrize(
    "cot_type, how, text, expected",
    [
        # detections (MITRE CoTtypes.xml b-d branch)
        ("b-d-l-b", "m-g", "", ("acoustic_sensor", "small_arms_fire", "small_arms", "instrument")),
        ("b-d-l-m", "m-f", "", ("radar", "explosion_outgoing", "mortar", "instrument")),
        ("b-d-l", "m-f", "122mm", ("radar", "explosion_outgoing", "artillery_100mm_plus", "instrument")),
        ("b-d-i-m", "m-f", "", ("radar", "explosion_impact", "mortar", "instrument")),
        ("b-d-i", "h-e", "Grad rockets", ("patrol", "explosion_impact", "mlrs", "seen")),
        ("b-d-a-i", "m-g", "", ("acoustic_sensor", "explosion_undetermined", "unknown", "instrument")),
        ("b-d-a-i", "m-g", "small arms", ("acoustic_sensor", "small_arms_fire", "small_arms", "instrument")),
        ("b-d-s", "m-g", "", ("acoustic_sensor", "explosion_undetermined", "unknown", "instrument")),
        ("b-d", "h-e", "air burst over the road", ("patrol", "explosion_airburst", "unknown", "seen")),
        ("b-d-c-e", "h-e", "", ("patrol", "explosion_undetermined", "unknown", "seen")),
        ("b-d-c-e-d", "h-e", "", ("patrol", "mine_laying", "mine", "seen")),
        ("b-d-c-b-c", "m-g", "", None),  # chemical
        ("b-d-a-v", "m-g", "", None),  # voice
        ("b-d-a-c", "m-g", "", None),  # engine noise
        ("b-d-m", "m-g", "", None),  # motion
        ("b-d-r", "m-g", "", None),  # radiation
        # markers
        ("b-m-p-s-m", "h-g-i-g-o", "", ("patrol", "explosion_undetermined", "unknown", "seen")),
        ("b-m-p-s-m", "h-g-i-g-o", "illumination flares", ("patrol", "illumination_flare", "unknown", "seen")),
        ("b-m-p-s-m", "h-g-i-g-o", "FPV drone strike on a car", ("patrol", "armed_drone_strike", "drone", "seen")),
        ("b-m-p-s-m", "h-e", "heard HMG bursts", ("patrol", "heavy_machine_gun_fire", "heavy_machine_gun", "heard")),
        ("b-m-p-s-m", "m-i", "", ("uav", "explosion_undetermined", "unknown", "instrument")),
        ("b-m-p-w", "h-g-i-g-o", "", None),  # waypoint
        # ground weapons (MIL-STD-2525B function ids), any affiliation but friend
        ("a-h-G-E-W-H", "h-e", "", ("patrol", "weapon_beyond_withdrawal_line", "artillery_100mm_plus", "seen")),
        ("a-u-G-E-W-H-M-S", "m-i", "", ("uav", "weapon_beyond_withdrawal_line", "artillery_100mm_plus", "instrument")),
        ("a-n-G-E-W-O-H", "h-e", "", ("patrol", "weapon_beyond_withdrawal_line", "mortar", "seen")),
        ("a-h-G-E-W-X", "h-e", "", ("patrol", "weapon_beyond_withdrawal_line", "mlrs", "seen")),
        ("a-h-G-E-W-X-H", "h-e", "", ("patrol", "weapon_beyond_withdrawal_line", "heavy_mlrs", "seen")),
        ("a-h-G-E-W-M-S-S", "h-e", "", ("patrol", "weapon_beyond_withdrawal_line", "tactical_missile", "seen")),
        ("a-h-G-E-W-G", "h-e", "", ("patrol", "weapon_beyond_withdrawal_line", "artillery_under_100mm", "seen")),
        ("a-h-G-E-W-D-H", "h-e", "", ("patrol", "weapon_beyond_withdrawal_line", "artillery_100mm_plus", "seen")),
        ("a-h-G-E-W-A", "h-e", "", ("patrol", "weapon_beyond_withdrawal_line", "unknown", "seen")),  # AD gun
        ("a-h-G-E-W", "h-e", "3 x 152mm howitzers", ("patrol", "weapon_beyond_withdrawal_line", "artillery_100mm_plus", "seen")),
        ("a-h-G-E-W-R-H", "h-e", "", ("patrol", "weapon_beyond_withdrawal_line", "heavy_machine_gun", "seen")),
        ("a-s-G-E-V-A-T", "h-e", "", ("patrol", "weapon_beyond_withdrawal_line", "tank", "seen")),
        ("a-h-G-E-X-M", "h-e", "", ("patrol", "mine_laying", "mine", "seen")),
        ("a-h-G-U-C-F", "h-e", "", ("patrol", "weapon_beyond_withdrawal_line", "unknown", "seen")),
        ("a-h-G-U-C-F-H", "h-e", "", ("patrol", "weapon_beyond_withdrawal_line", "artillery_100mm_plus", "seen")),
        ("a-h-G-U-C-F-R-M-S", "h-e", "", ("patrol", "weapon_beyond_withdrawal_line", "mlrs", "seen")),
        ("a-h-G-U-C-F-T", "h-e", "", None),  # target acquisition: no weapon
        ("a-h-G-U-C-M-T", "h-e", "", ("patrol", "weapon_beyond_withdrawal_line", "tactical_missile", "seen")),
        # other ground atoms: only an assault is a report
        ("a-h-G-U-C-I", "h-e", "", None),
        ("a-h-G-U-C-I", "h-e", "ground assault on the checkpoint", ("patrol", "ground_assault", "unknown", "seen")),
        ("a-h-G-E-V-C", "h-e", "", None),  # a civilian vehicle
        # not reports
        ("a-f-G-E-W-H", "h-e", "", None),  # friendly: the mission's own tracks
        ("a-f-G-U-C", "m-g", "", None),
        ("a-h-A-M-F-Q", "m-g", "", None),  # air
        ("t-x-c-t", "h-g-i-g-o", "", None),
        ("t-x-d-d", "h-g-i-g-o", "", None),
        ("b-t-f", "h-g-i-g-o", "impacts", None),  # chat
        ("b-d-i-m", "m-s", "", None),  # simulated
        # hierarchy is on "-": b-d-lx is not a launch, only an unknown detection
        ("b-d-lx", "m-g", "", ("uav", "explosion_undetermined", "unknown", "instrument")),
    ],
)
def test_mapping_table(cot_type, how, text, expected):
    mapped = observe(event(cot_type=cot_type, how=how, detail=remarks(text) if text else ""))
    if expected is None:
        assert mapped is None
    else:
        obs = mapped[0]
        assert (obs["channel"], obs["event_type"], obs["weapon_class"], obs["perception"]) == expected
        assert obs["channel"] in vocabulary.CHANNELS


def test_counts_from_remarks():
    def count(text):
        return observe(event(cot_type="b-m-p-s-m", detail=remarks(text)))[0]["count"]

    assert count("heard 7 explosions 1.4-1.6 km SSE") == 7
    assert count("3 x 122mm howitzers") == 3
    assert count("12 rounds of 82mm mortar") == 12
    assert count("impact 120mm mortar") == 1
    assert count("1.5 km away, explosions") == 1


def test_channel_override_and_no_marking():
    obs, _ = to_observation(parse_event(RADAR_POO), source_code="OP-7", marking=None, channel="observation_post")
    assert obs["channel"] == "observation_post" and "marking" not in obs
    ObservationIn(**obs)


def test_client_id_is_the_uid_and_the_mapping_is_deterministic():
    a = observe(event("same-uid", time="2025-03-01T21:40:00Z"))[0]
    b = observe(event("same-uid", time="2025-03-01T21:40:00Z"))[0]
    c = observe(event("same-uid", time="2025-03-01T22:00:00Z", stale="2025-03-01T22:01:00Z"))[0]
    d = observe(event("other-uid"))[0]
    assert a == b  # resent: the identical observation
    assert a["client_id"] == c["client_id"] == str(cot.client_id_for("same-uid"))
    assert d["client_id"] != a["client_id"]


def test_unusable_error_and_long_text():
    with pytest.raises(CotError):
        observe(event(ce="600000"))
    obs = observe(event(ce="200000"))[0]
    assert obs["observer"]["accuracy_m"] == 100_000 and obs["location"]["error_m"] == 200_000
    obs = observe(event(cot_type="b-m-p-s-m", detail=remarks("x" * 20_000, callsign="C" * 300)))[0]
    assert len(obs["narrative"]) <= 10_000 and obs["narrative"].endswith(f"[TAK {'C' * 300}, CoT b-m-p-s-m]")
    assert obs["chain"] == ["C" * 100]


# ================================================================================= listener


class ListSink:
    """A thread-safe in-memory sink, optionally slow or failing."""

    def __init__(self, delay: float = 0.0, fail_first: int = 0, fail_always: bool = False):
        self.items: list[tuple[dict, bytes]] = []
        self.calls = 0
        self.batches: list[int] = []
        self.active = self.max_active = 0
        self.delay, self.fail_first, self.fail_always = delay, fail_first, fail_always
        self.lock = threading.Lock()

    def __call__(self, batch):
        with self.lock:
            self.calls += 1
            call = self.calls
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            if self.delay:
                threading.Event().wait(self.delay)
            if self.fail_always or call <= self.fail_first:
                raise RuntimeError("database unavailable")
            with self.lock:
                self.items.extend(batch)
                self.batches.append(len(batch))
        finally:
            with self.lock:
                self.active -= 1

    def client_ids(self):
        return [obs["client_id"] for obs, _ in self.items]


def expected_ids(n, prefix="bench-"):
    return {str(cot.client_id_for(f"{prefix}{i}")) for i in range(n)}


async def run_listener(sink, sends, **kw):
    """Start a listener, run the given coroutines (each given the port), close, return it."""
    listener = tak.TakListener(sink, source_code="TAK-MON-1", port=0, **kw)
    port = await listener.start()
    await asyncio.gather(*(send(port) for send in sends))
    await listener.close()
    return listener


def pytak_sender(payloads, scheme="tcp", host="127.0.0.1", config=None):
    async def send(port):
        await tak.pytak_burst(f"{scheme}://{host}:{port}", payloads, config)

    return send


def test_burst_of_10000_from_pytak_arrives_exactly_once():
    pytak = tak._import_pytak()
    payloads = [pytak.hello_event()] + tak.bench_events(10_000)
    sink = ListSink()
    listener = asyncio.run(run_listener(sink, [pytak_sender(payloads)]))
    ids = sink.client_ids()
    assert len(ids) == 10_000 and set(ids) == expected_ids(10_000)
    assert listener.stats == {
        "received": 10_001, "persisted": 10_000, "skipped": 1, "bad": 0, "oversized": 0,
        "garbage_bytes": 0, "failed": 0, "connections": 1,
    }
    assert len(sink.batches) >= 5 and max(sink.batches) <= 2000  # large batches, none over batch_size
    assert all(raw.startswith(b"<detail>") for _, raw in sink.items)
    ObservationIn(**sink.items[0][0])


def test_good_events_survive_hostile_neighbours():
    good = tak.bench_events(3000)
    junk = {
        "http": b"GET / HTTP/1.1\r\nHost: tak\r\n\r\n",
        "protobuf": b"\xbf\x01\x80\x02\x0a\x03abc",
        "doctype": b'<!DOCTYPE event [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    }
    bad = [
        event("xxe", detail=remarks("&xxe;")),  # follows the doctype: an undeclared entity
        b'<event version="2.0" uid="cut" type="b-d-i-m"><point lat="1"',  # cut short by the next event
        event("no-point").replace(b'<point lat="47.6" lon="35.8" hae="9999999.0" ce="25" le="9999999.0"/>', b""),
        event("far", lat="123"),
    ]
    oversized = event("huge", detail=remarks("x" * 100_000))
    payloads = []
    for i, g in enumerate(good):
        payloads.append(g)
        if i % 500 == 100:
            payloads += [junk["http"], junk["protobuf"], junk["doctype"], bad[0], bad[1], bad[2], bad[3], oversized, FRIENDLY_PLI]
    rounds = sum(1 for i in range(len(good)) if i % 500 == 100)
    sink = ListSink()
    listener = asyncio.run(run_listener(sink, [pytak_sender(payloads)]))
    assert set(sink.client_ids()) == expected_ids(3000) and len(sink.items) == 3000
    stats = listener.stats
    assert stats["bad"] == 4 * rounds
    assert stats["oversized"] == rounds
    assert stats["skipped"] == rounds
    assert stats["garbage_bytes"] == rounds * sum(len(re.sub(rb"\s+", b"", j)) for j in junk.values())
    assert stats["received"] == stats["persisted"] + stats["skipped"] + stats["bad"]


def test_several_connections_at_once():
    sink = ListSink()
    senders = [pytak_sender(tak.bench_events(4000)[k * 1000 : (k + 1) * 1000]) for k in range(4)]
    listener = asyncio.run(run_listener(sink, senders))
    assert set(sink.client_ids()) == expected_ids(4000) and len(sink.items) == 4000
    assert listener.stats["connections"] == 4


def test_slow_sink_is_never_given_more_than_max_in_flight():
    sink = ListSink(delay=0.01)
    listener = asyncio.run(
        run_listener(sink, [pytak_sender(tak.bench_events(3000))], batch_size=100, max_in_flight=1, queue_chunks=2)
    )
    assert set(sink.client_ids()) == expected_ids(3000) and len(sink.items) == 3000
    assert sink.max_active == 1 and len(sink.batches) >= 30
    assert listener.stats["persisted"] == 3000


def test_failing_sink_is_retried_and_loses_nothing(caplog):
    sink = ListSink(fail_first=2)
    with caplog.at_level(logging.WARNING, logger="resolute.interop.tak"):
        listener = asyncio.run(run_listener(sink, [pytak_sender(tak.bench_events(500))], retry_delay=0.01))
    assert sorted(sink.client_ids()) == sorted(expected_ids(500))
    assert listener.stats["persisted"] == 500 and listener.stats["failed"] == 0
    assert "retrying" in caplog.text


def test_sink_that_never_recovers_keeps_the_batches(caplog):
    sink = ListSink(fail_always=True)
    with caplog.at_level(logging.ERROR, logger="resolute.interop.tak"):
        listener = asyncio.run(
            run_listener(sink, [pytak_sender(tak.bench_events(300))], retries=2, retry_delay=0.001)
        )
    kept = [obs["client_id"] for batch in listener.dead_letter for obs, _ in batch]
    assert sorted(kept) == sorted(expected_ids(300))
    assert listener.stats["failed"] == 300 and listener.stats["persisted"] == 0
    assert sink.calls == 3 * len(listener.dead_letter)
    assert "dead letter" in caplog.text


def test_close_flushes_a_connection_still_open():
    async def scenario():
        sink = ListSink()
        listener = tak.TakListener(sink, source_code="TAK-MON-1", port=0, flush_interval=60.0)
        port = await listener.start()
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"".join(tak.bench_events(50)) + THREE[0][:40])
        await writer.drain()
        while listener.stats["received"] < 50:
            await asyncio.sleep(0.01)
        await listener.close(grace=0.1)  # the client never hangs up
        writer.close()
        return sink, listener

    sink, listener = asyncio.run(scenario())
    assert set(sink.client_ids()) == expected_ids(50)
    assert listener.stats["bad"] == 1  # the unfinished event at the cut


def test_serve_forever_flushes_when_cancelled():
    async def scenario():
        sink = ListSink()
        listener = tak.TakListener(sink, source_code="TAK-MON-1", port=0, flush_interval=60.0)
        port = await listener.start()
        server = asyncio.create_task(listener.serve_forever())
        await tak.pytak_burst(f"tcp://127.0.0.1:{port}", tak.bench_events(200))
        while listener.stats["received"] < 200:
            await asyncio.sleep(0.01)
        server.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server
        return sink

    assert set(asyncio.run(scenario()).client_ids()) == expected_ids(200)


# ---------------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    d = tmp_path_factory.mktemp("pki")
    now = dt.datetime.now(dt.UTC)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def issue(cn, issuer_name, issuer_key, key, *, ca=False, san=None, usage=None):
        b = (
            x509.CertificateBuilder().subject_name(name(cn)).issuer_name(issuer_name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
        if usage:
            b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    def write(stem, cert, key):
        (d / f"{stem}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (d / f"{stem}.key").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = issue("Resolute test CA", name("Resolute test CA"), ca_key, ca_key, ca=True)
    write("ca", ca, ca_key)
    for stem, san, usage in (
        ("server", [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))], ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", None, ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        write(stem, issue(f"{stem}.test", ca.subject, ca_key, key, san=san, usage=usage), key)
    return d


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # pytak sets ssl.OP_NO_TLSv1*
def test_tls_with_client_certificate(pki):
    ctx = tak.tls_context(str(pki / "server.pem"), str(pki / "server.key"), str(pki / "ca.pem"))
    config = {
        "PYTAK_TLS_CLIENT_CERT": str(pki / "client.pem"),
        "PYTAK_TLS_CLIENT_KEY": str(pki / "client.key"),
        "PYTAK_TLS_CLIENT_CAFILE": str(pki / "ca.pem"),
        "PYTAK_TLS_SERVER_EXPECTED_HOSTNAME": "localhost",
    }
    sink = ListSink()
    listener = asyncio.run(run_listener(sink, [pytak_sender(tak.bench_events(1000), "tls", config=config)], ssl=ctx))
    assert set(sink.client_ids()) == expected_ids(1000) and len(sink.items) == 1000
    assert listener.stats["connections"] == 1


def test_tls_without_client_certificate_is_refused(pki):
    import ssl

    async def scenario():
        sink = ListSink()
        ctx = tak.tls_context(str(pki / "server.pem"), str(pki / "server.key"), str(pki / "ca.pem"))
        listener = tak.TakListener(sink, source_code="TAK-MON-1", port=0, ssl=ctx)
        port = await listener.start()
        client = ssl.create_default_context(cafile=str(pki / "ca.pem"))
        with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client, server_hostname="localhost")
            writer.write(b"".join(tak.bench_events(10)))
            await writer.drain()
            # TLS 1.3: the refusal arrives after the client thinks the handshake is done
            await reader.readexactly(1)
        await listener.close(grace=0.5)
        return sink, listener

    sink, listener = asyncio.run(scenario())
    assert sink.items == [] and listener.stats["received"] == 0


def test_bench_runs():
    result = tak.bench(200, batch_size=50)
    assert result["persisted"] == 200 and result["lost"] == 0 and result["events_per_s"] > 0

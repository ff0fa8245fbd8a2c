"""Cursor on Target (CoT) XML, as TAK clients send it: split a stream into events, parse each one
safely, and map reports to observations (the shape of ObservationIn, monitoring/schemas.py).

No Django here: the TAK listener (tak.py) and any importer hand the dicts to the intake service,
which validates and stores them. `to_observation` returns the raw `<detail>` next to the dict so
the caller can keep it for the record (ObservationIn has no field for it).

Sources of the tables below
- MITRE's CoT type registry, CoTtypes.xml rev. 1.80 (2009): the `b-d` detection branch
  (b-d-a acoustic, b-d-a-i impulsive, b-d-a-v voice, b-d-a-c cyclostationary, b-d-m motion,
  b-d-s seismic, b-d-r/b-d-n radiation/nuclear, b-d-c CBRNE with b-d-c-e explosive and
  b-d-c-e-d explosive device, b-d-l launch with b-d-l-b bullet and b-d-l-m mortar, b-d-i impact
  with b-d-i-m mortar), the spot-report marker b-m-p-s-m, and the `how` codes (h-e estimated,
  h-g-i-g-o hand-placed, h-t transcribed, m-g GPS, m-i mensurated, m-f fused, m-p passed,
  m-s simulated, ...).
- MIL-STD-2525B function ids, which CoT atoms reuse after `a-<affiliation>-<dimension>-`:
  G-E-W ground equipment/weapon with -O mortar, -H howitzer, -X multiple rocket launcher
  (-X-H heavy), -M-S surface-to-surface missile launcher, -A air-defence gun (not artillery),
  -D direct-fire gun, -G anti-tank gun, -R rifle/automatic weapon (-R-H heavy machine gun);
  G-E-V-A-T tank; G-E-X-M land mines; G-U-C-F field artillery units (-H howitzer/gun,
  -M mortar, -R-M multiple rocket); G-U-C-M-T tactical surface-to-surface missile units;
  G-U-C-A-T tracked armour (tank) units.

Judgement calls (each a table below, so that it is visible and testable)
- DETECTIONS: which b-d types are ceasefire reports, and as what. Voice, engine noise, motion,
  radiation and biological/chemical/nuclear detections are not in the vocabulary: skipped.
  An explosive device found (b-d-c-e-d) is reported as mine laying, for the verifier to judge.
- GROUND_WEAPONS: a weapon or weapon unit seen on the ground, of any affiliation but friend
  (friendly atoms are the mission's own position reports), is a weapon sighting, recorded as
  `weapon_beyond_withdrawal_line`: the rules engine decides, from the place and the class's
  withdrawal band, whether it is a violation. 2525's light/medium/heavy are not calibre bands;
  guns are classed by the systems of this theatre (howitzers are 100 mm or more; anti-tank and
  direct-fire guns, e.g. MT-12 100 mm, fall under the addendum's "up to 100 mm" class).
- Other ground atoms (troops, vehicles, buildings) are not reports, unless the remarks say
  "assault": a hostile unit on a map is not an attack, and a ground assault starts the gravest
  chain in the agreement.
- REMARK_EVENTS, REMARK_WEAPONS, count and perception: English keywords in the remarks refine a
  type that says little (b-d, b-d-a-i, b-m-p-s-m), fill an unknown weapon class and give the
  count. The type wins where it is specific.
- channel_for(): from `how` and the type (human entry: patrol; imagery: uav; acoustic
  detections: acoustic_sensor; launch/impact detections: radar; other machine sources: uav).
  A source whose channel is known (a fixed camera, an observation post) should pass `channel`.
- Simulated events (how m-s) are never observations.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass

import defusedxml.ElementTree as safe_et
from defusedxml import DefusedXmlException

__all__ = [
    "DETECTIONS",
    "GROUND_WEAPONS",
    "REMARK_EVENTS",
    "REMARK_WEAPONS",
    "CotError",
    "CotEvent",
    "EventSplitter",
    "channel_for",
    "client_id_for",
    "parse_event",
    "to_observation",
]

DEFAULT_MAX_EVENT_BYTES = 64 * 1024
# CoT writes 9999999(.0) for an unknown hae, ce or le.
UNKNOWN_VALUE = 9_999_999.0
# Metres, when the event gives no ce: the observer's accuracy and the event's position error.
DEFAULT_OBSERVER_ACCURACY_M = 50.0
DEFAULT_ERROR_M = 100.0
# The intake's bounds (schemas.Position, schemas.EventPoint), metres.
MAX_OBSERVER_ACCURACY_M = 100_000.0
MAX_ERROR_M = 500_000.0
# A CoT `stale` is when the map item expires, not how long the observation lasted (ATAK keeps
# markers for hours or more): the observed window ends at stale but at most this long after time.
OBSERVED_WINDOW = dt.timedelta(minutes=1)
GRADE = "B2"
MAX_NARRATIVE = 10_000
MAX_CHAIN_ITEM = 100

# Fixed forever: client_id = UUID5(this, uid). Changing it would turn every resent event into a
# new observation.
COT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:resolute:interop:cot")


class CotError(ValueError):
    """An event that cannot be used: not well-formed, unsafe (DTD, entities), or missing a field
    an observation needs."""


# ============================================================================== splitting

_OUTSIDE, _START_TAG, _BODY, _SKIP = range(4)
_LT, _GT, _SLASH = ord("<"), ord(">"), ord("/")

_OPEN = re.compile(rb"<event[\s/>]")
# A match of _OPEN needs 7 bytes; the last 6 of a buffer may be its beginning.
_OPEN_TAIL = 6
# In the start tag: the next quote or tag end; a '<' cannot occur in a tag or attribute value, so
# one means the tag was cut short (a sender died mid-event) and the stream resynchronises there.
_TAG_TOKEN = re.compile(rb"[\"'<>]")
_QUOTE_END = {ord('"'): re.compile(rb'["<]'), ord("'"): re.compile(rb"['<]")}
# The whole rest of a start tag at once, when it has arrived: the common case, one regex call.
_START_TAG_REST = re.compile(rb"""[^"'<>]*(?:(?:"[^"<]*"|'[^'<]*')[^"'<>]*)*>""")
# In the body: this event's end tag, or the start of another event (events never nest, so a new
# start means this one was cut short). Whitespace in the end tag is bounded so that the tail a
# match can straddle is bounded too, which keeps the splitter O(n).
_BODY_TOKEN = re.compile(rb"</event\s{0,16}>|<event[\s/>]")
_BODY_TAIL = len(b"</event") + 16
# Between events, whitespace and XML declarations are separators (ATAK and pytak send one
# declaration before every event); everything else is garbage.
_DECLARATION = re.compile(rb"<\?[^<>]{0,1024}\?>")
_WHITESPACE = re.compile(rb"\s+")
_MAX_DECLARATION = 1024


def _garbage(segment: bytes) -> int:
    if not segment or segment.isspace():
        return 0
    return len(_WHITESPACE.sub(b"", _DECLARATION.sub(b"", segment)))


class EventSplitter:
    """Cuts a byte stream into complete `<event …>…</event>` (or `<event …/>`) documents.

    `feed(chunk)` returns the documents completed by that chunk, in order. Each byte is scanned a
    bounded number of times whatever the chunking (O(n) over the stream). Between events,
    whitespace and XML declarations are skipped silently and anything else is skipped and
    counted in `garbage_bytes`. An event longer than `max_event_bytes` (bytes) is dropped and
    counted in `oversized`; the stream goes on after its end tag. An event cut short by the
    start of another is returned as it is, so that the parser rejects and counts it. The bytes of
    an unfinished event at the end of the stream are in `pending`.
    """

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES):
        self.max_event_bytes = max_event_bytes
        self.garbage_bytes = 0
        self.oversized = 0
        self._buf = bytearray()
        self._state = _OUTSIDE
        self._pos = 0  # where scanning resumes
        self._start = 0  # where the current event starts (in _START_TAG and _BODY)
        self._quote: re.Pattern | None = None  # inside an attribute value: its closing quote

    @property
    def pending(self) -> bytes:
        """The unfinished event buffered so far (b"" between events)."""
        if self._state in (_START_TAG, _BODY):
            return bytes(self._buf[self._start :])
        return b""

    def feed(self, data: bytes) -> list[bytes]:
        buf = self._buf
        buf += data
        out: list[bytes] = []
        while True:
            state = self._state
            if state == _OUTSIDE:
                if not self._outside(buf, out):
                    break
            elif state == _START_TAG:
                if not self._start_tag(buf, out):
                    break
            elif state == _BODY:
                if not self._body(buf, out):
                    break
            elif not self._skip(buf):
                break
        # Drop what is behind us; bytearray deletes from the front without copying the rest.
        keep = self._start if self._state in (_START_TAG, _BODY) else self._pos
        if keep:
            del buf[:keep]
            self._pos -= keep
            self._start = max(0, self._start - keep)
        return out

    # Each state method returns True when it changed state (scan on), False when it needs more.

    def _outside(self, buf: bytearray, out: list[bytes]) -> bool:
        m = _OPEN.search(buf, self._pos)
        if m is None:
            cut = max(self._pos, len(buf) - _OPEN_TAIL)
            # Do not count half of a declaration split across chunks as garbage: keep it.
            decl = buf.rfind(b"<?", self._pos)
            if decl != -1 and decl < cut:
                end = buf.find(b"?>", decl + 2)
                if end == -1 and len(buf) - decl <= _MAX_DECLARATION:
                    cut = decl
                elif end != -1 and end + 2 > cut:
                    cut = end + 2
            self.garbage_bytes += _garbage(bytes(buf[self._pos : cut]))
            self._pos = cut
            return False
        self.garbage_bytes += _garbage(bytes(buf[self._pos : m.start()]))
        self._start = m.start()
        self._pos = m.start() + len(b"<event")
        self._quote = None
        self._state = _START_TAG
        # Fast path; if the tag is not all here (or is broken), _start_tag scans it incrementally.
        whole = _START_TAG_REST.match(buf, self._pos)
        if whole is not None:
            if buf[whole.end() - 2] == _SLASH:  # <event …/>
                self._emit(buf, whole.end(), out)
                self._state = _OUTSIDE
            else:
                self._state = _BODY
            self._pos = whole.end()
        return True

    def _start_tag(self, buf: bytearray, out: list[bytes]) -> bool:
        while True:
            if self._quote is not None:
                m = self._quote.search(buf, self._pos)
                if m is None:
                    self._pos = len(buf)
                    return self._check_size(buf)
                if buf[m.start()] == _LT:
                    return self._cut_short(buf, m.start(), out)
                self._quote = None
                self._pos = m.end()
                continue
            m = _TAG_TOKEN.search(buf, self._pos)
            if m is None:
                self._pos = len(buf)
                return self._check_size(buf)
            c = buf[m.start()]
            if c == _GT:
                if buf[m.start() - 1] == _SLASH:  # <event …/>
                    self._emit(buf, m.end(), out)
                    self._state = _OUTSIDE
                else:
                    self._state = _BODY
                self._pos = m.end()
                return True
            if c == _LT:
                return self._cut_short(buf, m.start(), out)
            self._quote = _QUOTE_END[c]
            self._pos = m.end()

    def _body(self, buf: bytearray, out: list[bytes]) -> bool:
        m = _BODY_TOKEN.search(buf, self._pos)
        if m is None:
            self._pos = max(self._pos, len(buf) - _BODY_TAIL)
            return self._check_size(buf)
        if buf[m.start() + 1] == _SLASH:
            self._emit(buf, m.end(), out)
            self._state = _OUTSIDE
            self._pos = m.end()
            return True
        return self._cut_short(buf, m.start(), out)

    def _skip(self, buf: bytearray) -> bool:
        # The rest of an oversized event: discard up to its end tag, or to the next event.
        m = _BODY_TOKEN.search(buf, self._pos)
        if m is None:
            self._pos = max(self._pos, len(buf) - _BODY_TAIL)
            return False
        self._pos = m.end() if buf[m.start() + 1] == _SLASH else m.start()
        self._state = _OUTSIDE
        return True

    def _emit(self, buf: bytearray, end: int, out: list[bytes]) -> None:
        if end - self._start > self.max_event_bytes:
            self.oversized += 1
        else:
            out.append(bytes(buf[self._start : end]))

    def _cut_short(self, buf: bytearray, at: int, out: list[bytes]) -> bool:
        self._emit(buf, at, out)
        self._state = _OUTSIDE
        self._pos = at
        return True

    def _check_size(self, buf: bytearray) -> bool:
        if len(buf) - self._start > self.max_event_bytes:
            self.oversized += 1
            self._state = _SKIP
            self._pos = max(self._start, len(buf) - _BODY_TAIL)
            return True
        return False


# ================================================================================ parsing


@dataclass(frozen=True, slots=True)
class CotEvent:
    """One CoT event. Times are aware UTC datetimes; lat/lon WGS 84 degrees; hae (height above
    the ellipsoid), ce (circular error) and le (linear error) metres, None when unknown."""

    uid: str
    type: str
    how: str
    time: dt.datetime
    start: dt.datetime
    stale: dt.datetime | None
    lat: float
    lon: float
    hae: float | None
    ce: float | None
    le: float | None
    callsign: str
    remarks: str
    detail: bytes  # the <detail> element exactly as received (b"" when there is none)


def _time(value: str | None, name: str) -> dt.datetime:
    if not value:
        raise CotError(f"event/@{name} is missing")
    try:
        t = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise CotError(f"event/@{name} is not an ISO 8601 time: {value[:40]!r}") from None
    # CoT times are UTC; a time without a zone is read as UTC rather than refused.
    if t.tzinfo is None:
        return t.replace(tzinfo=dt.UTC)
    return t if t.tzinfo is dt.UTC else t.astimezone(dt.UTC)


def _coordinate(value: str | None, name: str, limit: float) -> float:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise CotError(f"point/@{name} is missing or not a number") from None
    if not math.isfinite(v) or not -limit <= v <= limit:
        raise CotError(f"point/@{name} is out of range: {value!r}")
    return v


def _metres(value: str | None, *, signed: bool = False) -> float | None:
    # Lenient: an unreadable error or height is unknown, not a reason to lose the report.
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not math.isfinite(v) or abs(v) >= UNKNOWN_VALUE or (v < 0 and not signed):
        return None
    return v


_DETAIL_OPEN = re.compile(rb"<detail[\s/>]")


def _raw_detail(xml: bytes, element: ET.Element) -> bytes:
    """The <detail> element's bytes as received. The event was parsed, so the first `<detail`
    outside comments and CDATA is the element itself."""
    m = _DETAIL_OPEN.search(xml)
    if m is not None:
        end = xml.rfind(b"</detail>")
        if end > m.start():
            raw = xml[m.start() : end + len(b"</detail>")]
        else:
            close = xml.find(b">", m.start())
            raw = xml[m.start() : close + 1] if xml[close - 1 : close] == b"/" else b""
        if raw and b"<!--" not in xml and b"<![CDATA[" not in xml:
            return raw
        if raw:
            # A comment or CDATA section could hold a decoy `<detail`; keep the slice only if it is
            # the element.
            try:
                if safe_et.fromstring(raw, forbid_dtd=True).tag == "detail":
                    return raw
            except (ET.ParseError, ValueError):
                pass
    return ET.tostring(element)


def _cannot_hold_a_dtd(xml: bytes | str) -> bool:
    """True when the document has no DOCTYPE and is read as UTF-8 or an ASCII-compatible
    encoding: then it declares no entities and references nothing external (entity and
    external-subset declarations exist only inside a DOCTYPE), and expat, which refuses an
    undeclared entity, cannot be made to expand or fetch anything.

    Expat reads UTF-16 only after a byte-order mark or a NUL among the first bytes, so a
    document that starts with "<" followed by something other than NUL is read in an ASCII
    superset, where the markup "<!DOCTYPE" (case-sensitive in XML) appears as these bytes."""
    return isinstance(xml, bytes) and xml[:1] == b"<" and xml[1:2] not in (b"", b"\0") and b"<!DOCTYPE" not in xml


def parse_event(xml: bytes) -> CotEvent:
    """Parse one CoT event document. DTDs, entity declarations and external references are
    refused (XXE, billion laughs) with CotError, as is anything not well-formed or lacking
    uid, type, time or a valid point."""
    try:
        if _cannot_hold_a_dtd(xml):
            # The common case (every event the splitter cuts starts with "<event"): the C parser,
            # about three times faster than defusedxml's pure-Python one, and as safe here.
            root = ET.fromstring(xml)
        else:
            root = safe_et.fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise CotError(f"unsafe XML refused ({type(exc).__name__})") from None
    except (ET.ParseError, ValueError) as exc:
        raise CotError(f"not well-formed XML: {exc}") from None
    if root.tag != "event":
        raise CotError(f"root element is <{root.tag}>, not <event>")
    attrs = root.attrib
    uid = (attrs.get("uid") or "").strip()
    type_ = (attrs.get("type") or "").strip()
    if not uid:
        raise CotError("event/@uid is missing")
    if not type_:
        raise CotError("event/@type is missing")
    time = _time(attrs.get("time"), "time")
    start = _time(attrs["start"], "start") if attrs.get("start") else time
    stale = _time(attrs["stale"], "stale") if attrs.get("stale") else None
    point = root.find("point")
    if point is None:
        raise CotError("event has no <point>")
    lat = _coordinate(point.get("lat"), "lat", 90.0)
    lon = _coordinate(point.get("lon"), "lon", 180.0)
    detail = root.find("detail")
    callsign = remarks = ""
    raw = b""
    if detail is not None:
        contact = detail.find("contact")
        if contact is not None:
            callsign = (contact.get("callsign") or "").strip()
        note = detail.find("remarks")
        if note is not None:
            remarks = "".join(note.itertext()).strip()
        raw = _raw_detail(xml, detail)
    return CotEvent(
        uid=uid,
        type=type_,
        how=(attrs.get("how") or "").strip(),
        time=time,
        start=start,
        stale=stale,
        lat=lat,
        lon=lon,
        hae=_metres(point.get("hae"), signed=True),
        ce=_metres(point.get("ce")),
        le=_metres(point.get("le")),
        callsign=callsign,
        remarks=remarks,
        detail=raw,
    )


# ================================================================================ mapping

# CoT detection types, the first matching prefix wins (a prefix matches itself and its subtypes):
# (type prefix, event type or None for "not a ceasefire report", weapon class).
# "explosion_undetermined" marks a type that says little: the remarks may name the event.
DETECTIONS: tuple[tuple[str, str | None, str], ...] = (
    ("b-d-l-b", "small_arms_fire", "small_arms"),  # launch/bullet: a gunshot detector
    ("b-d-l-m", "explosion_outgoing", "mortar"),  # launch/mortar: a point of origin
    ("b-d-l", "explosion_outgoing", "unknown"),  # launch
    ("b-d-i-m", "explosion_impact", "mortar"),  # impact/mortar: a point of impact
    ("b-d-i", "explosion_impact", "unknown"),  # impact
    ("b-d-c-e-d", "mine_laying", "mine"),  # CBRNE/explosive/device: an emplaced device found
    ("b-d-c-e", "explosion_undetermined", "unknown"),  # CBRNE/explosive
    ("b-d-c", None, "unknown"),  # biological, chemical, nuclear, radiological
    ("b-d-a-v", None, "unknown"),  # acoustic/voice
    ("b-d-a-c", None, "unknown"),  # acoustic/cyclostationary (engines, generators)
    ("b-d-m", None, "unknown"),  # motion
    ("b-d-r", None, "unknown"),  # radiation (deprecated)
    ("b-d-n", None, "unknown"),  # nuclear
    ("b-d", "explosion_undetermined", "unknown"),  # detection; b-d-a(-i) acoustic impulse, b-d-s seismic
)
SPOT_REPORT = "b-m-p-s-m"

WEAPON_SIGHTING = "weapon_beyond_withdrawal_line"
# 2525 function ids after "a-<affiliation>-G-", first matching prefix wins:
# (function id prefix, event type, weapon class).
GROUND_WEAPONS: tuple[tuple[str, str, str], ...] = (
    ("E-W-O", WEAPON_SIGHTING, "mortar"),
    ("E-W-H", WEAPON_SIGHTING, "artillery_100mm_plus"),  # howitzer
    ("E-W-D-H", WEAPON_SIGHTING, "artillery_100mm_plus"),  # direct-fire gun, heavy
    ("E-W-D", WEAPON_SIGHTING, "artillery_under_100mm"),  # direct-fire gun
    ("E-W-G", WEAPON_SIGHTING, "artillery_under_100mm"),  # anti-tank gun (MT-12 100 mm, D-44 85 mm)
    ("E-W-X-H", WEAPON_SIGHTING, "heavy_mlrs"),  # multiple rocket launcher, heavy (Uragan, Smerch)
    ("E-W-X", WEAPON_SIGHTING, "mlrs"),  # multiple rocket launcher
    ("E-W-M-S", WEAPON_SIGHTING, "tactical_missile"),  # surface-to-surface missile launcher
    ("E-W-R-H", WEAPON_SIGHTING, "heavy_machine_gun"),
    ("E-W-R", WEAPON_SIGHTING, "small_arms"),  # rifle, light machine gun
    ("E-W", WEAPON_SIGHTING, "unknown"),  # air-defence gun (E-W-A), AD/AT missiles, single rockets, grenade launchers
    ("E-V-A-T", WEAPON_SIGHTING, "tank"),
    ("E-X-M", "mine_laying", "mine"),  # land mines
    ("U-C-F-H", WEAPON_SIGHTING, "artillery_100mm_plus"),  # field artillery unit, howitzer/gun
    ("U-C-F-M", WEAPON_SIGHTING, "mortar"),
    ("U-C-F-R-M", WEAPON_SIGHTING, "mlrs"),
    ("U-C-F-R", WEAPON_SIGHTING, "unknown"),  # rocket unit, single launcher
    ("U-C-M-T", WEAPON_SIGHTING, "tactical_missile"),  # tactical surface-to-surface missile unit
    ("U-C-A-T", WEAPON_SIGHTING, "tank"),  # armour, tracked
)
# Matched exactly: the artillery unit of unknown kind (its subtypes -O meteorological, -S survey,
# -T target acquisition carry no weapon).
GROUND_WEAPONS_EXACT = {"U-C-F": (WEAPON_SIGHTING, "unknown")}
FRIENDLY = frozenset("fa")  # friend, assumed friend

# Remarks keywords, English, matched case-insensitively on word boundaries; first match wins.
REMARK_EVENTS: tuple[tuple[str, str], ...] = (
    (r"air ?bursts?", "explosion_airburst"),
    (r"drone (?:strike|attack|drop)|fpv|loitering munition|dropped munition", "armed_drone_strike"),
    (r"air ?strikes?|bombing|bombed", "air_strike"),
    (r"illumination|flares?", "illumination_flare"),
    (r"muzzle flash(?:es)?", "muzzle_flash"),
    (r"impacts?|incoming|landed|shell(?:ing)? hit", "explosion_impact"),
    (r"outgoing|launch(?:es|ed)?|fired from", "explosion_outgoing"),
    (r"whistl\w*|in flight|overflight", "projectile_in_flight"),
    (r"heavy machine[- ]guns?|hmg", "heavy_machine_gun_fire"),
    (r"small[- ]arms|gunfire|gun ?shots?|shots|bursts? of fire|rifle fire", "small_arms_fire"),
    (r"ground assault|assault(?:ed|ing)?", "ground_assault"),
    (r"mine[- ]?laying|laying mines|mines? (?:were )?laid", "mine_laying"),
    (r"jamm(?:ing|ed)|gps interference|spoofing", "interference_jamming"),
)
REMARK_WEAPONS: tuple[tuple[str, str], ...] = (
    (r"uragan|smerch|tornado|bm-27|bm-30|heavy mlrs", "heavy_mlrs"),
    (r"mlrs|grad|bm-21|multiple rocket|rocket launchers?|mrl", "mlrs"),
    (r"tochka|iskander|ballistic missiles?|tactical missiles?", "tactical_missile"),
    (r"mortars?", "mortar"),
    (r"tanks?|t-64|t-72|t-80|t-90", "tank"),
    (r"(?P<mm>\d{2,3}) ?mm", "calibre"),  # decided by the calibre below
    (r"howitzers?|self-propelled guns?", "artillery_100mm_plus"),
    (r"fpv|drones?|uav|quadcopters?", "drone"),
    (r"aircraft|jets?|helicopters?", "aircraft"),
    (r"heavy machine[- ]guns?|hmg|dshk|nsv", "heavy_machine_gun"),
    (r"small[- ]arms|rifles?|gunfire|ak-?74", "small_arms"),
    (r"mines?", "mine"),
)
_REMARK_EVENTS = [(re.compile(rf"\b(?:{p})\b", re.IGNORECASE), v) for p, v in REMARK_EVENTS]
_REMARK_WEAPONS = [(re.compile(rf"\b(?:{p})\b", re.IGNORECASE), v) for p, v in REMARK_WEAPONS]
# "7 explosions", "3 x 122mm howitzers": a number (not a calibre) and, within two words, a noun
# that counts.
_COUNT = re.compile(
    r"(?<![\d.,])(\d{1,5})(?!\d)(?! ?mm)\s*(?:x\s+)?(?:\S+\s+){0,2}?"
    r"(?:explosions?|impacts?|rounds?|shells?|bursts?|shots|blasts?|launch(?:es)?|detonations?"
    r"|mines?|tanks?|howitzers?|mortars?|guns?|launchers?|vehicles?|pieces|systems?)\b",
    re.IGNORECASE,
)
_HEARD_AND_SEEN = re.compile(r"\b(?:heard and seen|seen and heard|saw and heard|heard and saw)\b", re.IGNORECASE)
_HEARD = re.compile(r"\bheard\b", re.IGNORECASE)
_ASSAULT = re.compile(r"\b(?:ground assault|assault(?:ed|ing)?)\b", re.IGNORECASE)


def _matches(cot_type: str, prefix: str) -> bool:
    # CoT types are hierarchical on "-": b-d-l matches b-d-l and b-d-l-m, not b-d-lx.
    return cot_type == prefix or cot_type.startswith(prefix + "-")


# The tables as dicts, looked up from the full type up its hierarchy: the longest matching
# prefix wins, as in the tables, where longer prefixes come first.
_DETECTIONS = {prefix: (event_type, weapon) for prefix, event_type, weapon in reversed(DETECTIONS)}
_GROUND_WEAPONS = {prefix: (event_type, weapon) for prefix, event_type, weapon in reversed(GROUND_WEAPONS)}


def _lookup(table: dict, key: str):
    while key:
        if key in table:
            return table[key]
        key = key.rpartition("-")[0]
    return None


def _classify(ev: CotEvent) -> tuple[str, str, bool] | None:
    """(event type, weapon class, whether the remarks may name the event) or None."""
    t = ev.type
    if _matches(t, "b-d"):
        event_type, weapon = _lookup(_DETECTIONS, t)
        if event_type is None:
            return None
        return event_type, weapon, event_type == "explosion_undetermined"
    if t == SPOT_REPORT:
        return "explosion_undetermined", "unknown", True
    parts = t.split("-")
    if len(parts) >= 3 and parts[0] == "a" and parts[2] == "G" and parts[1] not in FRIENDLY:
        function = "-".join(parts[3:])
        if function in GROUND_WEAPONS_EXACT:
            event_type, weapon = GROUND_WEAPONS_EXACT[function]
            return event_type, weapon, False
        found = _lookup(_GROUND_WEAPONS, function)
        if found is not None:
            return found[0], found[1], False
        if _ASSAULT.search(ev.remarks):
            return "ground_assault", "unknown", False
    return None


def _remark_event(remarks: str) -> str | None:
    for pattern, event_type in _REMARK_EVENTS:
        if pattern.search(remarks):
            return event_type
    return None


def _remark_weapon(remarks: str) -> str | None:
    for pattern, weapon in _REMARK_WEAPONS:
        m = pattern.search(remarks)
        if m:
            if weapon == "calibre":
                return "artillery_under_100mm" if int(m["mm"]) < 100 else "artillery_100mm_plus"
            return weapon
    return None


def _count(remarks: str) -> int:
    m = _COUNT.search(remarks)
    return min(max(int(m[1]), 1), 100_000) if m else 1


def channel_for(how: str, cot_type: str) -> str:
    """The observation channel implied by a CoT `how` and type (vocabulary.CHANNELS)."""
    if not how or how.startswith("h"):
        return "patrol"  # a person placed or typed it: a monitor with a TAK device
    if how.startswith("m-i"):
        return "uav"  # mensurated from imagery
    if any(_matches(cot_type, p) for p in ("b-d-a", "b-d-s", "b-d-l-b")):
        return "acoustic_sensor"
    if _matches(cot_type, "b-d-l") or _matches(cot_type, "b-d-i"):
        return "radar"  # points of origin and impact: weapon-locating radar
    return "uav"  # machine-generated atoms and markers: UAV ground stations, video trackers


def client_id_for(uid: str) -> uuid.UUID:
    """The observation's client_id for a CoT uid: the same uid resent is the same observation."""
    return uuid.uuid5(COT_NAMESPACE, uid)


_NAMESPACE_BYTES = COT_NAMESPACE.bytes


def _client_id_text(uid: str) -> str:
    """str(client_id_for(uid)) without the two UUID objects: UUID version 5 (RFC 4122 §4.3),
    SHA-1 of namespace and name, version nibble 5 and variant bits 10 set as uuid.uuid5 does."""
    b = bytearray(hashlib.sha1(_NAMESPACE_BYTES + uid.encode("utf-8")).digest()[:16])
    b[6] = (b[6] & 0x0F) | 0x50
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _iso(t: dt.datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def to_observation(
    ev: CotEvent,
    *,
    source_code: str,
    marking: Mapping | None,
    channel: str | None = None,
) -> tuple[dict, bytes] | None:
    """(observation dict in the ObservationIn shape, raw detail bytes), or None when the event is
    not a report (position updates, pings, chat, routes, simulated events, ...).

    The dict depends only on the event, so a resent event maps to the identical observation.
    Observer position = the event point with accuracy ce (default 50 m), location error = ce
    (default 100 m), both metres; observed window = [time, min(stale, time + 1 min)]. `channel`
    overrides the channel derived from `how`. Raises CotError when ce is beyond 500 km (no usable
    location).
    """
    if ev.how.startswith("m-s"):
        return None
    kind = _classify(ev)
    if kind is None:
        return None
    event_type, weapon, refinable = kind
    remarks = ev.remarks
    if remarks:
        if refinable:
            event_type = _remark_event(remarks) or event_type
        if weapon == "unknown":
            weapon = _remark_weapon(remarks) or weapon
    if ev.ce is not None and ev.ce > MAX_ERROR_M:
        raise CotError(f"ce {ev.ce:.0f} m is beyond {MAX_ERROR_M:.0f} m: no usable location")
    error_m = DEFAULT_ERROR_M if ev.ce is None else ev.ce
    accuracy_m = DEFAULT_OBSERVER_ACCURACY_M if ev.ce is None else min(ev.ce, MAX_OBSERVER_ACCURACY_M)

    human = not ev.how.startswith("m")
    if not human:
        perception = "instrument"
    elif _HEARD_AND_SEEN.search(remarks):
        perception = "heard_and_seen"
    elif _HEARD.search(remarks):
        perception = "heard"
    else:
        perception = "seen"

    observed_to = ev.time + OBSERVED_WINDOW
    if ev.stale is not None:
        observed_to = min(max(ev.stale, ev.time), observed_to)

    who = ev.callsign or ev.uid
    tag = f"[TAK {who}, CoT {ev.type}]"
    narrative = f"{remarks[: MAX_NARRATIVE - len(tag) - 1]}\n{tag}" if remarks else tag
    observation = {
        "client_id": _client_id_text(ev.uid),
        "channel": channel or channel_for(ev.how, ev.type),
        "observer": {"lat": ev.lat, "lon": ev.lon, "accuracy_m": accuracy_m},
        "observed_from": _iso(ev.time),
        "observed_to": _iso(observed_to),
        "event_type": event_type,
        "perception": perception,
        "count": _count(remarks) if remarks else 1,
        "weapon_class": weapon,
        "location": {"lat": ev.lat, "lon": ev.lon, "error_m": error_m},
        "narrative": narrative[:MAX_NARRATIVE],
        "source": source_code,
        "grade": GRADE,
        "chain": [who[:MAX_CHAIN_ITEM]],
    }
    if marking is not None:
        observation["marking"] = dict(marking)
    return observation, ev.detail
